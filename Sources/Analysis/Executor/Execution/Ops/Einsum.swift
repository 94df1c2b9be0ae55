import Kernels

// Einsum: the equation is parsed into integer labels, then lowered at compile time to strided copies
// (transposes, diagonals, broadcasts), trailing-axis sums and batched matrix products (sgemm), so a
// forward pass allocates nothing.

/// A parsed Einsum equation: one label list per operand and for the output.
///
/// Letters are labels 0..<52 ('a'…'z', 'A'…'Z'); the dims an ellipsis stands for are labels
/// `ellipsisBase + j`, right-aligned across operands (numpy broadcasting of the `...` dims). A label
/// repeated inside one operand takes its diagonal. Without `->` the output is the ellipsis dims
/// followed by the letters that occur exactly once, in ASCII order (numpy's implicit mode).
struct EinsumEquation: Equatable {
    static let ellipsisBase = 1000

    let operands: [[Int]]
    let output: [Int]
    /// Size of every label (a dim of 1 broadcasts against a larger one).
    let sizes: [Int: Int]

    init(_ equation: String, shapes: [[Int]]) throws {
        let text = equation.filter { !$0.isWhitespace }
        let sides = text.components(separatedBy: "->")
        guard sides.count <= 2 else { throw EinsumError("more than one '->' in '\(equation)'") }
        let terms = sides[0].components(separatedBy: ",")
        guard terms.count == shapes.count else {
            throw EinsumError("the equation '\(equation)' names \(terms.count) operands, the node has \(shapes.count)")
        }
        func letterLabel(_ c: Character) throws -> Int {
            guard let ascii = c.asciiValue else { throw EinsumError("'\(c)' is not a subscript letter") }
            switch ascii {
            case 97...122: return Int(ascii - 97)
            case 65...90: return 26 + Int(ascii - 65)
            default: throw EinsumError("'\(c)' is not a subscript letter")
            }
        }
        /// Letters before and after a term's ellipsis (nil when it has none).
        func split(_ term: String) throws -> (before: [Int], after: [Int]?) {
            let parts = term.components(separatedBy: "...")
            guard parts.count <= 2 else { throw EinsumError("more than one '...' in '\(term)'") }
            let before = try parts[0].map(letterLabel)
            return (before, try parts.count == 2 ? parts[1].map(letterLabel) : nil)
        }
        let parsed = try terms.map(split)
        var ellipsisRank = 0
        for (term, shape) in zip(parsed, shapes) {
            let letters = term.before.count + (term.after?.count ?? 0)
            if term.after == nil {
                guard letters == shape.count else {
                    throw EinsumError("operand of rank \(shape.count) has \(letters) subscripts in '\(equation)'")
                }
            } else {
                guard letters <= shape.count else {
                    throw EinsumError("operand of rank \(shape.count) has \(letters) subscripts in '\(equation)'")
                }
                ellipsisRank = max(ellipsisRank, shape.count - letters)
            }
        }
        var operands: [[Int]] = []
        var sizes: [Int: Int] = [:]
        for (term, shape) in zip(parsed, shapes) {
            var labels = term.before
            if let after = term.after {
                let own = shape.count - term.before.count - after.count
                labels += (0..<own).map { Self.ellipsisBase + ellipsisRank - own + $0 }
                labels += after
            }
            for (label, size) in zip(labels, shape) {
                let known = sizes[label]
                if known == nil || known == 1 {
                    sizes[label] = size
                } else if size != known! && size != 1 {
                    throw EinsumError("subscript \(Self.name(label)) has sizes \(known!) and \(size) in '\(equation)'")
                }
            }
            operands.append(labels)
        }
        let ellipsis = (0..<ellipsisRank).map { Self.ellipsisBase + $0 }
        var output: [Int]
        if sides.count == 2 {
            let term = try split(sides[1])
            if term.after != nil, ellipsisRank > 0 || parsed.contains(where: { $0.after != nil }) {
                output = term.before + ellipsis + term.after!
            } else if term.after != nil {
                throw EinsumError("the output has '...' but no operand does")
            } else {
                output = term.before
                if ellipsisRank > 0 { throw EinsumError("the output of '\(equation)' omits the '...' dims") }
            }
            guard Set(output).count == output.count else { throw EinsumError("a subscript repeats in the output of '\(equation)'") }
            for label in output where sizes[label] == nil {
                throw EinsumError("output subscript \(Self.name(label)) is in no operand of '\(equation)'")
            }
        } else {
            var occurrences: [Int: Int] = [:]
            for labels in operands { for label in labels where label < Self.ellipsisBase { occurrences[label, default: 0] += 1 } }
            // ASCII order: uppercase (labels 26..<52) before lowercase.
            let once = occurrences.filter { $0.value == 1 }.keys.sorted { ($0 >= 26 ? $0 - 26 : $0 + 26) < ($1 >= 26 ? $1 - 26 : $1 + 26) }
            output = ellipsis + once
        }
        self.operands = operands
        self.output = output
        self.sizes = sizes
    }

    static func name(_ label: Int) -> String {
        if label >= ellipsisBase { return "... dim \(label - ellipsisBase)" }
        let scalar = label < 26 ? 97 + label : 65 + label - 26
        return "'\(Character(UnicodeScalar(UInt8(scalar))))'"
    }
}

struct EinsumError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The unique labels of an operand in first-occurrence order, with the element stride of each in
/// the operand (a repeated label's strides add up: its diagonal; a dim of 1 that broadcasts gets 0).
func einsumView(labels: [Int], shape: [Int], sizes: [Int: Int]) -> (labels: [Int], strides: [Int: Int]) {
    let own = Shapes.strides(shape)
    var unique: [Int] = [], strides: [Int: Int] = [:]
    for (d, label) in labels.enumerated() {
        if strides[label] == nil { unique.append(label) }
        let broadcast = shape[d] == 1 && sizes[label]! != 1
        strides[label, default: 0] += broadcast ? 0 : own[d]
    }
    return (unique, strides)
}

/// One operand made ready for a product or a reduction: copied into the label order the step wants
/// (nil when it already is in that order in memory), then summed over its trailing `sumLength`.
struct EinsumOperandPlan: Sendable {
    let copy: StridedCopy?
    /// Elements after the copy (before the sum).
    let copiedCount: Int
    /// Product of the sizes of the labels summed away (1: nothing to sum).
    let sumLength: Int

    /// Plans reading an operand (`labels` of `shape`) as the labels `order` followed by `summed`.
    init(labels: [Int], shape: [Int], sizes: [Int: Int], order: [Int], summed: [Int]) {
        let view = einsumView(labels: labels, shape: shape, sizes: sizes)
        let wanted = order + summed
        let counts = wanted.map { sizes[$0]! }
        sumLength = summed.reduce(1) { $0 * sizes[$1]! }
        copiedCount = counts.reduce(1, *)
        // In place when the operand is exactly these labels, contiguous in this order, no diagonal.
        let inPlace = labels == wanted && shape == counts
        copy = inPlace ? nil : StridedCopy(shape: counts, strides: wanted.map { view.strides[$0]! })
    }

    /// Scratch floats `prepare` needs.
    var scratchCount: Int { (copy != nil ? copiedCount : 0) + (sumLength > 1 ? copiedCount / sumLength : 0) }

    /// The operand in the planned layout: `source` itself, or a copy (and sum) in `scratch`.
    func prepare(_ source: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>, threads: Int) -> UnsafePointer<Float> {
        var current = source
        var free = scratch
        if let copy {
            copy.run(current, free)
            current = UnsafePointer(free)
            free += copiedCount
        }
        if sumLength > 1 {
            Kernels.reduce(.sum, input: current, output: free, outer: copiedCount / sumLength, reduceLength: sumLength, inner: 1,
                           threads: threads)
            current = UnsafePointer(free)
        }
        return current
    }
}

/// One step of an Einsum: a single operand summed and permuted into `result`, or a product of two
/// operands `C[batch, m, n] = Σ_k A[batch, m, k] · B[batch, k, n]` (labels that only one operand has
/// and the result drops are summed first) whose result is then put in `result`'s order.
struct EinsumStep: Sendable {
    /// The result's labels, in its memory order.
    let result: [Int]
    let resultCount: Int
    let a: EinsumOperandPlan
    /// Nil for a single-operand step.
    let b: EinsumOperandPlan?
    /// Whether B is read as [batch, n, k] in place (sgemm's transB) rather than [batch, k, n].
    let bTransposed: Bool
    let batch: Int, m: Int, n: Int, k: Int
    /// Moves the product [batch, m, n] into `result`'s order (nil when it already is).
    let permute: StridedCopy?

    /// Plans `result` (labels, in order) from operand A (`aLabels` of `aShape`) and, when given, B;
    /// labels of the operands missing from `result` are summed.
    init(aLabels: [Int], aShape: [Int], bLabels: [Int]? = nil, bShape: [Int]? = nil, result: [Int], sizes: [Int: Int]) {
        self.result = result
        resultCount = result.reduce(1) { $0 * sizes[$1]! }
        let keep = Set(result)
        let ua = einsumView(labels: aLabels, shape: aShape, sizes: sizes).labels
        guard let bLabels, let bShape else {
            a = EinsumOperandPlan(labels: aLabels, shape: aShape, sizes: sizes, order: result, summed: ua.filter { !keep.contains($0) })
            b = nil
            bTransposed = false
            (batch, m, n, k) = (1, resultCount, 1, 1)
            permute = nil
            return
        }
        let ub = einsumView(labels: bLabels, shape: bShape, sizes: sizes).labels
        let inA = Set(ua), inB = Set(ub)
        // Batch, m and n labels in the result's order, so that the product often needs no permute.
        let batchLabels = result.filter { inA.contains($0) && inB.contains($0) }
        let mLabels = result.filter { inA.contains($0) && !inB.contains($0) }
        let nLabels = result.filter { inB.contains($0) && !inA.contains($0) }
        let kLabels = ua.filter { inB.contains($0) && !keep.contains($0) }
        func size(_ labels: [Int]) -> Int { labels.reduce(1) { $0 * sizes[$1]! } }
        (batch, m, n, k) = (size(batchLabels), size(mLabels), size(nLabels), size(kLabels))
        a = EinsumOperandPlan(labels: aLabels, shape: aShape, sizes: sizes, order: batchLabels + mLabels + kLabels,
                              summed: ua.filter { !inB.contains($0) && !keep.contains($0) })
        let bSummed = ub.filter { !inA.contains($0) && !keep.contains($0) }
        let asNK = EinsumOperandPlan(labels: bLabels, shape: bShape, sizes: sizes, order: batchLabels + nLabels + kLabels, summed: bSummed)
        if asNK.copy == nil && asNK.sumLength == 1 {
            b = asNK
            bTransposed = true
        } else {
            b = EinsumOperandPlan(labels: bLabels, shape: bShape, sizes: sizes, order: batchLabels + kLabels + nLabels, summed: bSummed)
            bTransposed = false
        }
        let product = batchLabels + mLabels + nLabels
        if product == result {
            permute = nil
        } else {
            let strides = Shapes.strides(product.map { sizes[$0]! })
            let position = Dictionary(uniqueKeysWithValues: product.enumerated().map { ($1, $0) })
            permute = StridedCopy(shape: result.map { sizes[$0]! }, strides: result.map { strides[position[$0]!] })
        }
    }

    /// Scratch floats `run` needs.
    var scratchCount: Int { a.scratchCount + (b?.scratchCount ?? 0) + (permute != nil ? resultCount : 0) }

    /// Writes the step's result (`resultCount` floats, overwritten) from the operands.
    func run(_ aSource: UnsafePointer<Float>, _ bSource: UnsafePointer<Float>?, into out: UnsafeMutablePointer<Float>,
             scratch: UnsafeMutablePointer<Float>, threads: Int) {
        let aReady = a.prepare(aSource, scratch: scratch, threads: threads)
        guard let b, let bSource else {
            if aReady != UnsafePointer(out) { out.update(from: aReady, count: resultCount) }
            return
        }
        let bReady = b.prepare(bSource, scratch: scratch + a.scratchCount, threads: threads)
        let product = permute == nil ? out : scratch + a.scratchCount + b.scratchCount
        if k == 0 {
            product.update(repeating: 0, count: batch * m * n)
        } else if batch == 1 {
            sgemm(m: m, n: n, k: k, a: aReady, lda: max(k, 1), transA: false, b: bReady, ldb: max(bTransposed ? k : n, 1),
                  transB: bTransposed, c: product, ldc: max(n, 1), threads: threads)
        } else {
            // Many small products (attention heads): a share of the batch per thread.
            let chunks = batch * m * n * k < 1 << 17 ? 1 : min(threads, batch)
            let (m, n, k, batch, bTransposed) = (m, n, k, batch, bTransposed)
            Parallel.forEach(chunks, threads: chunks) { chunk in
                for p in (batch * chunk / chunks)..<(batch * (chunk + 1) / chunks) {
                    sgemm(m: m, n: n, k: k, a: aReady + p * m * k, lda: max(k, 1), transA: false, b: bReady + p * k * n,
                          ldb: max(bTransposed ? k : n, 1), transB: bTransposed, c: product + p * m * n, ldc: max(n, 1),
                          threads: chunks == 1 ? threads : 1)
                }
            }
        }
        permute?.run(UnsafePointer(product), out)
    }
}

/// Einsum over any number of operands: one step for a single operand, else a left-to-right chain of
/// pairwise products, each keeping the labels the output or a later operand still needs.
struct EinsumOperator: Operator {
    let outputTypes: [ValueType]
    let equation: EinsumEquation
    let shapes: [[Int]]
    let steps: [EinsumStep]
    /// Workspace offset of each step's result (intermediates; the last step writes the output).
    let resultOffsets: [Int]
    let scratchOffset: Int
    let workspaceCount: Int

    func forward(_ io: OperatorIO) {
        let scratch = io.workspace + scratchOffset
        var current = io.input(0)
        for (i, step) in steps.enumerated() {
            let out = i == steps.count - 1 ? io.output(0) : io.workspace + resultOffsets[i]
            step.run(current, steps.count == 1 && shapes.count == 1 ? nil : io.input(i + 1), into: out, scratch: scratch,
                     threads: io.threads)
            current = UnsafePointer(out)
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let types = try (0..<c.inputCount).map { try c.type($0) }
        guard !types.isEmpty else { throw c.failure("no operands") }
        let text = try c.string("equation", "")
        let equation: EinsumEquation
        do {
            equation = try EinsumEquation(text, shapes: types.map(\.shape))
        } catch let error as EinsumError {
            throw c.failure(error.message)
        }
        let shapes = types.map(\.shape)
        var steps: [EinsumStep] = []
        if shapes.count == 1 {
            steps.append(EinsumStep(aLabels: equation.operands[0], aShape: shapes[0], result: equation.output, sizes: equation.sizes))
        } else {
            var labels = equation.operands[0], shape = shapes[0]
            for i in 1..<shapes.count {
                let later = Set(equation.output + equation.operands[(i + 1)...].joined())
                let last = i == shapes.count - 1
                // Unique labels of both operands that are still needed, A's first.
                var result: [Int] = []
                for label in labels + equation.operands[i] where later.contains(label) && !result.contains(label) { result.append(label) }
                if last { result = equation.output }
                let step = EinsumStep(aLabels: labels, aShape: shape, bLabels: equation.operands[i], bShape: shapes[i], result: result,
                                      sizes: equation.sizes)
                steps.append(step)
                labels = result
                shape = result.map { equation.sizes[$0]! }
            }
        }
        var offsets: [Int] = [], used = 0
        for step in steps.dropLast() {
            offsets.append(used)
            used += step.resultCount
        }
        let scratch = steps.map(\.scratchCount).max() ?? 0
        let outputShape = equation.output.map { equation.sizes[$0]! }
        return EinsumOperator(outputTypes: [ValueType(types[0].dataType, outputShape)], equation: equation, shapes: shapes,
                              steps: steps, resultOffsets: offsets, scratchOffset: used, workspaceCount: used + scratch)
    }
}
