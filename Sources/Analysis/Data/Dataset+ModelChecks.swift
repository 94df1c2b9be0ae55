import Executor
/// Checks of a dataset against the model it is about to be fed to.
extension Dataset {
    /// The dataset reshaped, if needed, to fit a model input.
    ///
    /// - Parameters:
    ///   - name: the model input's name, for the message.
    ///   - dims: the input's dimensions, FIRST = batch (ignored); `nil` (or a negative value) is a
    ///     symbolic/unknown dimension that matches anything, e.g. `[nil, 1, 28, 28]`.
    /// - Returns: `self` when `sampleShape` already matches `dims.dropFirst()`; otherwise, when every
    ///   non-batch dim is known and their product equals `sampleSize`, a copy with `sampleShape` set to
    ///   them (row-major data needs no reordering: x `[N, 784]` fits `[N, 1, 28, 28]`).
    /// - Throws: `QScopeError(file: source, "samples have shape [784] but the model input 'input' expects
    ///   [N, 1, 28, 28]")` in any other case (unknown dims shown as `?`), or when `dims` is empty.
    public func fitted(toInput name: String, dims: [Int?]) throws -> Dataset {
        let known = dims.map { $0.flatMap { $0 >= 0 ? $0 : nil } }
        guard let batch = known.first else {
            throw QScopeError(file: source, "the model input '\(name)' is a scalar and cannot take a batch of samples")
        }
        let wanted = Array(known.dropFirst())
        if wanted.count == sampleShape.count && zip(wanted, sampleShape).allSatisfy({ $0 == nil || $0 == $1 }) {
            return self
        }
        let concrete = wanted.compactMap { $0 }
        if concrete.count == wanted.count && concrete.allSatisfy({ $0 > 0 }) {
            let (product, overflow) = concrete.reduce((1, false)) { partial, dim in
                let (next, over) = partial.0.multipliedReportingOverflow(by: dim)
                return (next, partial.1 || over)
            }
            if !overflow && product == sampleSize {
                var copy = self
                copy.sampleShape = concrete
                return copy
            }
        }
        let expected = [batch.map(String.init) ?? "N"] + wanted.map { $0.map(String.init) ?? "?" }
        throw QScopeError(file: source, "samples have shape \(NPY.describe(sampleShape)) but the model input '\(name)' expects [\(expected.joined(separator: ", "))]")
    }

    /// Checks that every label is a class index of a model with `classes` outputs; passes when there
    /// are no labels.
    /// - Throws: `QScopeError` naming `labelSource ?? source`, for the first bad label, with 0-based sample
    ///   indices: `"label 12 of sample 37 is outside 0..<10"`; also when `classes < 1`.
    public func validateLabels(classes: Int) throws {
        guard let labels else { return }
        let file = labelSource ?? source
        guard classes >= 1 else {
            throw QScopeError(file: file, "cannot check labels against a model with \(classes) classes")
        }
        if let index = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw QScopeError(file: file, "label \(labels[index]) of sample \(index) is outside 0..<\(classes)")
        }
    }
}
