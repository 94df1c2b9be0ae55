/// Dot products and in-place sums of dense float vectors, for the derivative passes.

/// Σ a[i]·b[i] over `count` floats: float32 FMA partial sums in 16 lanes over blocks of 1024
/// elements, each block's sum added in Double (relative error ~1e-7 · √blocks for sums of
/// like-signed terms).
public func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0
    var start = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while start < count {
        let end = min(start + 1024, count)
        var lanes = SIMD16<Float>()
        var i = start
        while i + 16 <= end {
            let x = ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            lanes.addProduct(x, y)
            i += 16
        }
        var block = Double(lanes.sum())
        while i < end {
            block += Double(a[i]) * Double(b[i])
            i += 1
        }
        total += block
        start = end
    }
    return total
}

/// `target[i] += source[i]` for `count` floats, split over `threads` for large counts. The two
/// ranges must not overlap.
public func addInPlace(_ target: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int, threads: Int = 1) {
    let parts = max(1, min(threads, count >> 16))
    Parallel.forEach(parts, threads: parts) { part in
        let lo = count * part / parts, hi = count * (part + 1) / parts
        let t = UnsafeMutableRawPointer(target), s = UnsafeRawPointer(source)
        var i = lo
        while i + 16 <= hi {
            let sum = t.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                + s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            t.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD16<Float>.self)
            i += 16
        }
        while i < hi {
            target[i] += source[i]
            i += 1
        }
    }
}

/// Sets `count` floats to zero, split over `threads` for large counts (one thread cannot saturate
/// the memory bus with stores).
public func zeroFill(_ target: UnsafeMutablePointer<Float>, count: Int, threads: Int = 1) {
    let parts = max(1, min(threads, count >> 16))
    Parallel.forEach(parts, threads: parts) { part in
        let lo = count * part / parts, hi = count * (part + 1) / parts
        (target + lo).update(repeating: 0, count: hi - lo)
    }
}
