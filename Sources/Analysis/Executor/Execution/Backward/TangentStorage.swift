/// The per-probe buffers of `ReverseMode`'s tangent passes: for each run-time value its tangents and
/// the tangents of its adjoint (probe copies), and the outputs quadratic-form steps keep from their
/// tangent to their tangent backward.
///
/// They are by far the largest buffers of a Hessian pass (about 2·probes copies of every value,
/// against one primal and one adjoint), and they are only needed while a tangent pass runs. Engines
/// of one model that run their passes one after another, such as the sample chunks of one Hessian
/// (`HessianProblem`), can therefore share one storage: each chunk keeps its own primal values and
/// adjoints prepared, and only the tangents are sized for one chunk. Contents do not survive from
/// one pass to the next (every pass zeroes or overwrites what it reads).
///
/// Buffers are allocated on first use and grown (never shrunk) when a pass asks for more floats;
/// allocated once because fresh buffers of this size cost a page fault per 4 KiB on every pass.
/// Not thread-safe: the engines sharing it must not run tangent passes at the same time.
public final class TangentStorage: @unchecked Sendable {
    /// What a buffer holds: a value's tangents, its adjoint's tangents, or a step's kept output.
    enum Role: Hashable {
        case tangent(ValueID)
        case tangentOfAdjoint(ValueID)
        case retained(step: Int)
    }

    private var buffers: [Role: (pointer: UnsafeMutablePointer<Float>, capacity: Int)] = [:]

    public init() {}

    deinit {
        for buffer in buffers.values { buffer.pointer.deallocate() }
    }

    /// A buffer of at least `floats` floats for `role` (contents undefined).
    func buffer(_ role: Role, floats: Int) -> UnsafeMutablePointer<Float> {
        let needed = max(floats, 1)
        if let existing = buffers[role], existing.capacity >= needed { return existing.pointer }
        buffers[role]?.pointer.deallocate()
        let pointer = UnsafeMutablePointer<Float>.allocate(capacity: needed)
        buffers[role] = (pointer, needed)
        return pointer
    }
}
