import Kernels

/// Gemm: `Y = alpha·op(A)·op(B) + beta·C`, C broadcast unidirectionally to [M, N].
struct GemmOperator: Operator {
    let outputTypes: [ValueType]
    let m: Int, n: Int, k: Int
    let transA: Bool, transB: Bool
    let alpha: Float, beta: Float
    /// How C is laid over the output: absent, a per-column bias [N], or a general broadcast.
    let bias: BiasLayout
    let cShape: [Int]

    /// Set when B is a constant (a layer weight): it is packed once.
    let packCache: WeightPackCache?
    /// A following Relu fused by the simplifier.
    let relu: Bool

    enum BiasLayout: Sendable { case none, column, row, full }

    var workspaceCount: Int { packCache != nil && smallGemmSupports(n: n) ? Parallel.maxThreads * smallGemmScratchCount(n: n, k: k) : 0 }

    func invalidateCaches() { packCache?.invalidate() }

    func forward(_ io: OperatorIO) {
        let a = io.input(0), b = io.input(1), y = io.output(0)
        let lda = transA ? m : k, ldb = transB ? k : n
        var epilogue = GemmEpilogue(relu: relu)
        var beta: Float = 0
        switch bias {
        case .column where self.beta == 1, .row where self.beta == 1:
            epilogue.bias = io.input(2)
            epilogue.biasAxis = bias == .row ? .row : .column
        case .none:
            break
        default:
            // General C: broadcast it into Y, then accumulate with beta.
            StridedCopy(shape: [m, n], strides: Shapes.broadcastStrides(cShape, to: [m, n])).run(io.input(2), y)
            beta = self.beta
        }
        if let packCache, !transA, smallGemmSupports(n: n), beta == 0 {
            // Few outputs (a classifier head): unpacked rows of B, rows of A split over the threads.
            let rows = packCache.rowMajor(for: b, ldb: ldb, transB: transB, k: k, n: n)
            let parts = Swift.min(io.threads, Swift.max(1, m / 64))
            let scratch = smallGemmScratchCount(n: n, k: k)
            Parallel.forEach(parts, threads: parts) { part in
                let r0 = m * part / parts, r1 = m * (part + 1) / parts
                smallGemm(m: r1 - r0, n: n, k: k, a: a + r0 * k, lda: k, b: rows, ldb: n, c: y + r0 * n, ldc: n,
                          scratch: io.workspace + part * scratch)
                for r in r0..<r1 {
                    let row = y + r * n
                    if alpha != 1 { for j in 0..<n { row[j] *= alpha } }
                    if let bias = epilogue.bias {
                        for j in 0..<n { row[j] += epilogue.biasAxis == .row ? bias[r] : bias[j] }
                    }
                    if relu { for j in 0..<n { row[j] = Swift.max(row[j], 0) } }
                }
            }
        } else if let packCache, !transA, narrowGemmPaysOffWithKeptOperand(m: m, n: n, k: k), bias != .row {
            // Tall and narrow against a weight: A read in place rather than packed (see NarrowGemm.swift),
            // B copied into the kernel's layout once.
            let operand = packCache.narrowOperand(for: b, ldb: ldb, transB: transB, k: k, n: n, alpha: alpha)
            narrowGemm(m: m, a: a, lda: k, b: operand, c: y, ldc: n, beta: beta, columnBias: epilogue.bias, relu: relu,
                       threads: io.threads)
        } else if !transA, narrowGemmPaysOff(m: m, n: n, k: k), bias != .row {
            // Tall and narrow: A read in place rather than packed (see NarrowGemm.swift).
            narrowGemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: ldb, transB: transB, c: y, ldc: n, alpha: alpha,
                       beta: beta, columnBias: epilogue.bias, relu: relu, threads: io.threads)
        } else if let packCache {
            let packed = packCache.matrix(for: b, ldb: ldb, transB: transB, k: k, n: n)
            sgemm(m: m, a: a, lda: lda, transA: transA, packedB: packed, c: y, ldc: n, alpha: alpha, beta: beta,
                  epilogue: epilogue, threads: io.threads)
        } else {
            sgemm(m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                  c: y, ldc: n, alpha: alpha, beta: beta, epilogue: epilogue, threads: io.threads)
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let a = try c.shape(0), b = try c.shape(1)
        guard a.count == 2, b.count == 2 else { throw c.failure("A \(a) and B \(b) must be 2-D") }
        let transA = try c.int("transA", 0) != 0, transB = try c.int("transB", 0) != 0
        let m = transA ? a[1] : a[0], k = transA ? a[0] : a[1]
        let kb = transB ? b[1] : b[0], n = transB ? b[0] : b[1]
        guard k == kb else { throw c.failure("A \(a) and B \(b) do not multiply (transA=\(transA), transB=\(transB))") }
        var layout = BiasLayout.none
        var cShape: [Int] = []
        if c.has(2) {
            cShape = try c.shape(2)
            guard let s = Shapes.broadcast([m, n], cShape), s == [m, n] else {
                throw c.failure("C \(cShape) does not broadcast to [\(m), \(n)]")
            }
            // Before opset 7 C broadcasts only when the `broadcast` attribute says so.
            if c.opset < 7, try c.int("broadcast", 0) == 0, cShape != [m, n] {
                throw c.failure("C \(cShape) is not [\(m), \(n)] and the attribute 'broadcast' is 0 (opset \(c.opset))")
            }
            let count = cShape.reduce(1, *)
            if count == n && n > 1 && (cShape.count == 1 || cShape.first == 1) { layout = .column }
            else if count == m && m > 1 && cShape.count == 2 && cShape[1] == 1 { layout = .row }
            else { layout = .full }
        }
        return GemmOperator(outputTypes: [ValueType(try c.type(0).dataType, [m, n])], m: m, n: n, k: k,
                            transA: transA, transB: transB, alpha: try c.float("alpha", 1),
                            beta: try c.float("beta", 1), bias: layout, cShape: cShape,
                            packCache: c.constants.count > 1 && c.constants[1] != nil ? WeightPackCache() : nil,
                            relu: c.node.attributes["qscope.fused_relu"] != nil)
    }
}

/// MatMul with numpy semantics: batch dims broadcast, 1-D operands promoted and the added dim removed.
struct MatMulOperator: Operator {
    let outputTypes: [ValueType]
    let m: Int, n: Int, k: Int
    /// Number of output matrices and, for each, the matrix index in A and in B.
    let batch: Int
    let aIndex: [Int], bIndex: [Int]
    /// True when B is one matrix shared by every batch: A's batch folds into M (one big GEMM).
    let foldsBatchIntoM: Bool
    /// Many small products (attention scores and values) run through the unpacked small kernel.
    let usesSmallKernel: Bool
    /// Set when B is a constant (a layer weight): it is packed once.
    let packCache: WeightPackCache?
    /// A following Relu fused by the simplifier.
    let relu: Bool
    let threads: Int

    var workspaceCount: Int { usesSmallKernel ? threads * smallGemmScratchCount(n: n, k: k) : 0 }

    func invalidateCaches() { packCache?.invalidate() }

    func forward(_ io: OperatorIO) {
        let a = io.input(0), b = io.input(1), y = io.output(0)
        if foldsBatchIntoM {
            let epilogue = GemmEpilogue(bias: io.optionalInput(2), biasAxis: .column, relu: relu)
            if let packCache, narrowGemmPaysOffWithKeptOperand(m: batch * m, n: n, k: k) {
                // Tall and narrow against a weight (a transformer's projections): A read in place,
                // B copied into the kernel's layout once.
                let operand = packCache.narrowOperand(for: b, ldb: n, transB: false, k: k, n: n, alpha: 1)
                narrowGemm(m: batch * m, a: a, lda: k, b: operand, c: y, ldc: n, columnBias: epilogue.bias, relu: relu,
                           threads: io.threads)
            } else if narrowGemmPaysOff(m: batch * m, n: n, k: k) {
                // Tall and narrow (a transformer's projections): A read in place rather than packed.
                narrowGemm(m: batch * m, n: n, k: k, a: a, lda: k, b: b, ldb: n, transB: false, c: y, ldc: n,
                           columnBias: epilogue.bias, relu: relu, threads: io.threads)
            } else if let packCache {
                let packed = packCache.matrix(for: b, ldb: n, transB: false, k: k, n: n)
                sgemm(m: batch * m, a: a, lda: k, transA: false, packedB: packed, c: y, ldc: n, epilogue: epilogue,
                      threads: io.threads)
            } else {
                sgemm(m: batch * m, n: n, k: k, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                      c: y, ldc: n, epilogue: epilogue, threads: io.threads)
            }
            return
        }
        // Many products (attention): contiguous runs of the batch per thread, one thread each; a
        // few microseconds of work (batch-1 attention: 4 heads of 17x16x17) stay on one thread, as
        // a fork/join costs more than it saves and stalls when the other core is busy.
        let chunks = batch * m * n * k < 1 << 17 ? 1 : Swift.min(io.threads, batch)
        let scratchPerThread = usesSmallKernel ? smallGemmScratchCount(n: n, k: k) : 0
        Parallel.forEach(chunks, threads: chunks) { chunk in
            let scratch = io.workspace + chunk * scratchPerThread
            for index in (batch * chunk / chunks)..<(batch * (chunk + 1) / chunks) {
                let aMatrix = a + aIndex[index] * m * k, bMatrix = b + bIndex[index] * k * n, cMatrix = y + index * m * n
                if usesSmallKernel {
                    smallGemm(m: m, n: n, k: k, a: aMatrix, lda: k, b: bMatrix, ldb: n, c: cMatrix, ldc: n, scratch: scratch)
                } else {
                    sgemm(m: m, n: n, k: k, a: aMatrix, lda: k, transA: false, b: bMatrix, ldb: n, transB: false,
                          c: cMatrix, ldc: n, threads: 1)
                }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let product = try MatMulGeometry(c, bInput: 1)
        let (m, n, k, batch, outShape, bVector) = (product.m, product.n, product.k, product.batch, product.outShape, product.bVector)
        let (aIndex, bIndex) = (product.aIndex, product.bIndex)
        let sharedB = product.bMatrices == 1 && product.aMatrices == batch
        // A third input is the bias the simplifier folded in from a following Add (see GraphSimplifier).
        if c.has(2) {
            guard sharedB, !bVector, try c.type(2).count == n else { throw c.failure("a bias needs one shared [K, N] weight") }
        }
        if c.node.attributes["qscope.fused_relu"] != nil && !sharedB {
            throw c.failure("a fused Relu needs one shared [K, N] weight")
        }
        return MatMulOperator(outputTypes: [ValueType(try c.type(0).dataType, outShape)], m: m, n: n, k: k,
                              batch: batch, aIndex: aIndex, bIndex: bIndex, foldsBatchIntoM: sharedB,
                              usesSmallKernel: !sharedB && smallGemmSupports(n: n) && m <= 128 && k <= 256,
                              packCache: sharedB && c.constants.count > 1 && c.constants[1] != nil ? WeightPackCache() : nil,
                              relu: c.node.attributes["qscope.fused_relu"] != nil, threads: Parallel.maxThreads)
    }
}

/// The shapes of a product with NumPy `matmul` semantics, from input 0 (A) and input `bInput` (B): a
/// 1-D A is a row, a 1-D B a column (both dropped from the output), the batch dims broadcast. Shared
/// by MatMul and the integer products (MatMulInteger, QLinearMatMul).
struct MatMulGeometry {
    let m: Int, n: Int, k: Int
    /// Products in the broadcast batch.
    let batch: Int
    /// Distinct A and B matrices (the products of each operand's own batch dims).
    let aMatrices: Int, bMatrices: Int
    /// B was 1-D.
    let bVector: Bool
    let outShape: [Int]
    /// For each product of the batch, the A matrix and the B matrix it reads.
    let aIndex: [Int], bIndex: [Int]

    init(_ c: OperatorContext, bInput: Int) throws {
        var a = try c.shape(0), b = try c.shape(bInput)
        guard !a.isEmpty, !b.isEmpty else { throw c.failure("scalar operands") }
        let aVector = a.count == 1, bVector = b.count == 1
        if aVector { a = [1] + a }
        if bVector { b = b + [1] }
        let m = a[a.count - 2], k = a[a.count - 1], kb = b[b.count - 2], n = b[b.count - 1]
        guard k == kb else { throw c.failure("shapes \(try c.shape(0)) and \(try c.shape(bInput)) do not multiply") }
        let aBatch = Array(a.dropLast(2)), bBatch = Array(b.dropLast(2))
        guard let batchShape = Shapes.broadcast(aBatch, bBatch) else {
            throw c.failure("batch dims \(aBatch) and \(bBatch) do not broadcast")
        }
        var outShape = batchShape + [m, n]
        if bVector { outShape.removeLast() }
        if aVector { outShape.remove(at: outShape.count - (bVector ? 1 : 2)) }
        let batch = batchShape.reduce(1, *)
        var aIndex = [Int](repeating: 0, count: batch), bIndex = [Int](repeating: 0, count: batch)
        BroadcastLoop.forEach(shape: batchShape, strides: [Shapes.broadcastStrides(aBatch, to: batchShape),
                                                           Shapes.broadcastStrides(bBatch, to: batchShape)]) { i, o in
            aIndex[i] = o[0]
            bIndex[i] = o[1]
        }
        (self.m, self.n, self.k, self.batch) = (m, n, k, batch)
        (self.aMatrices, self.bMatrices) = (aBatch.reduce(1, *), bBatch.reduce(1, *))
        (self.bVector, self.outShape, self.aIndex, self.bIndex) = (bVector, outShape, aIndex, bIndex)
    }
}
