/// SqueezeLLM non-uniform quantization: a k-means codebook of `2^B` FP16 centroids per row, plus an
/// optional dense-and-sparse decomposition.
///
/// - Outliers (`sparsePercent` > 0): the `round(sparsePercent/100 · n)` weights of largest |w| in the
///   whole matrix (ties by lower index) go to the sparse part (the reference's "outliers by
///   magnitude" mode with its percentage target). They get weight 0 in the k-means; genuine
///   zero weights keep weight 1 (the reference gives them weight 0 with the outliers; we do not).
/// - Per row: `KMeans1D(clusters: 2^B)` minimising `Σ_i s_i (w_i − c_{q(i)})²` with sample weight
///   `s_i` = the weight's sensitivity (the Fisher diagonal) when `quantize` is given one, else 1;
///   outliers get 0. A row whose non-outlier sensitivities are all 0 falls back to uniform weights
///   (the reference's "weights sum to 0 → uniform" rule). Centroids are rounded to FP16 (the LUT is
///   stored in FP16 as the paper's accounting assumes), each dense weight coded by its nearest FP16
///   centroid (ties to the lower index).
/// - An outlier's code is the centroid nearest to 0 and it stores the FP16 residual
///   `fp16(w − c)`, so `ŵ = c + residual`.
public struct LookupTableQuantizer: Sendable, Hashable {
    public var bits: Int
    /// Percentage (0 ≤ F < 100) of the weights kept as sparse FP16 outliers.
    public var sparsePercent: Double

    public init(bits: Int, sparsePercent: Double = 0) {
        precondition((1...8).contains(bits) && sparsePercent >= 0 && sparsePercent < 100, "bad LUT quantizer")
        self.bits = bits
        self.sparsePercent = sparsePercent
    }

    public struct Encoded: Sendable {
        public var rows: Int
        public var columns: Int
        /// `[rows, columns]` codebook indices.
        public var codes: [Int32]
        /// `[rows, 2^B]` FP16-representable centroids.
        public var codebooks: [Float]
        /// Flat indices of the sparse outliers (ascending) and their FP16-representable residuals.
        public var sparseIndices: [Int]
        public var sparseValues: [Float]
    }

    /// Encodes a `[rows, columns]` row-major matrix.
    ///
    /// - Parameter sensitivity: per-weight k-means sample weights in the same layout (finite, ≥ 0; the
    ///   caller validates), or nil for plain k-means.
    public func quantize(_ weights: [Float], rows: Int, columns: Int, sensitivity: [Float]? = nil,
                         threads: Int = 1) -> Encoded {
        weights.withUnsafeBufferPointer { quantize($0, rows: rows, columns: columns, sensitivity: sensitivity, threads: threads) }
    }

    /// `quantize` reading the weights in place (a mapped weight is not copied first).
    public func quantize(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int, sensitivity: [Float]? = nil,
                         threads: Int = 1) -> Encoded {
        precondition(weights.count == rows * columns, "weight count does not match rows × columns")
        precondition(sensitivity == nil || sensitivity!.count == weights.count, "sensitivity count does not match the weights")
        let k = 1 << bits
        let outlierCount = Int((sparsePercent / 100 * Double(weights.count)).rounded(.toNearestOrEven))
        var isOutlier = [Bool](repeating: false, count: weights.count)
        if outlierCount > 0 {
            let order = weights.indices.sorted { a, b in
                let (x, y) = (abs(weights[a]), abs(weights[b]))
                return x != y ? x > y : a < b
            }
            for i in order.prefix(outlierCount) { isOutlier[i] = true }
        }
        var codes = [Int32](repeating: 0, count: weights.count)
        var codebooks = [Float](repeating: 0, count: rows * k)
        let kmeans = KMeans1D(clusters: k)
        weights.withUnsafeBufferPointer { w in
            codes.withUnsafeMutableBufferPointer { c in
                codebooks.withUnsafeMutableBufferPointer { books in
                    let (wp, cp, bp) = (w.baseAddress!, c.baseAddress!, books.baseAddress!)
                    Parallel.forEach(rows, threads: threads) { row in
                        guard columns > 0 else { return }
                        let base = row * columns
                        let values = UnsafeBufferPointer(start: wp + base, count: columns)
                        var sampleWeights = (0..<columns).map { isOutlier[base + $0] ? Float(0) : (sensitivity?[base + $0] ?? 1) }
                        if sensitivity != nil, !sampleWeights.contains(where: { $0 > 0 }) {
                            // No sensitivity in this row: plain k-means (outliers still excluded).
                            sampleWeights = (0..<columns).map { isOutlier[base + $0] ? 0 : 1 }
                        }
                        let result = sampleWeights.withUnsafeBufferPointer { kmeans.fit(values, weights: $0) }
                        let book = result.centroids.map { float16BitsToFloat(floatToFloat16Bits(Float($0))) }
                        for j in 0..<k { bp[row * k + j] = book[j] }
                        let nearZero = nearest(0, in: book)
                        for i in 0..<columns {
                            cp[base + i] = isOutlier[base + i] ? nearZero : nearest(values[i], in: book)
                        }
                    }
                }
            }
        }
        var sparseIndices: [Int] = []
        var sparseValues: [Float] = []
        for i in weights.indices where isOutlier[i] {
            let centroid = codebooks[(i / columns) * k + Int(codes[i])]
            sparseIndices.append(i)
            sparseValues.append(float16BitsToFloat(floatToFloat16Bits(weights[i] - centroid)))
        }
        return Encoded(rows: rows, columns: columns, codes: codes, codebooks: codebooks,
                       sparseIndices: sparseIndices, sparseValues: sparseValues)
    }

    public func dequantize(_ encoded: Encoded) -> [Float] {
        let k = 1 << bits
        var out = (0..<encoded.codes.count).map { encoded.codebooks[($0 / encoded.columns) * k + Int(encoded.codes[$0])] }
        for (i, v) in zip(encoded.sparseIndices, encoded.sparseValues) { out[i] += v }
        return out
    }

    public func fakeQuantize(_ weights: [Float], rows: Int, columns: Int, sensitivity: [Float]? = nil,
                             threads: Int = 1) -> [Float] {
        dequantize(quantize(weights, rows: rows, columns: columns, sensitivity: sensitivity, threads: threads))
    }

    /// Storage: `n·b + r·2^b·16`, plus for a sparse part `nnz·(16 + 32)` (FP16 value and int32
    /// column index) and `(r + 1)·32` CSR row pointers.
    public func bits(for encoded: Encoded) -> StorageBits {
        let nnz = encoded.sparseIndices.count
        let sparse = nnz > 0 ? nnz * 48 + (encoded.rows + 1) * 32 : 0
        return StorageBits(payload: encoded.codes.count * bits, metadata: encoded.rows * (1 << bits) * 16 + sparse)
    }

    /// Index of the value in `book` nearest to `x` (Double distances, ties to the lower index).
    @inline(__always)
    func nearest(_ x: Float, in book: [Float]) -> Int32 {
        var best = 0
        var bestDistance = abs(Double(x) - Double(book[0]))
        for j in 1..<book.count {
            let d = abs(Double(x) - Double(book[j]))
            if d < bestDistance {
                bestDistance = d
                best = j
            }
        }
        return Int32(best)
    }
}
