import Executor
import Foundation
import Testing
import Analysis

/// Reverse mode of the ops transformer exports add or use in new ways: Einsum (products of two
/// run-time values, a constant operand, diagonals, sums, broadcast ellipsis), GatherElements and
/// GatherND (scatter-add adjoints, repeated and negative indices), Gather with run-time indices and
/// on a non-leading axis, CumSum, Trilu, Softmax on a non-last axis, Where with a float branch,
/// reductions with axes as an input, Pow with a constant exponent.
///
/// Gradients against the float64 interpreter of `Float64GradientTests` (central differences), and
/// Hessian-vector products against finite differences of the gradients (`OpGradientTests.check`).
@Suite("reverse mode of transformer ops")
struct TransformerGradientTests {
    typealias Builder = OpGradientTests.Builder
    static let head = Float64GradientTests.head

    @Test func einsumGradients() throws {
        // Attention written with Einsum, softmax over a non-last axis.
        try Float64GradientTests.check("Einsum attention", shape: [3, 4]) { b in
            b.constant("wq", [4, 4]); b.constant("wk", [4, 4])
            b.node("MatMul", ["x", "wq"], ["q"]); b.node("MatMul", ["x", "wk"], ["k"])
            b.node("Einsum", ["q", "k"], ["s"], ["equation": .string("bid,bjd->bij")])
            b.node("Softmax", ["s"], ["p"], ["axis": .int(1)])
            b.node("Einsum", ["p", "x"], ["c"], ["equation": .string("bij,bjd->bid")])
            b.node("Flatten", ["c"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 12)
        }
        // A constant operand, implicit output, ellipsis broadcasting against a rank-2 constant.
        try Float64GradientTests.check("Einsum constant operand", shape: [3, 4]) { b in
            b.constant("w", [4, 2])
            b.node("Einsum", ["x", "w"], ["y"], ["equation": .string("...ij,jk")])
            b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 6)
        }
        // Diagonal, and a sum over a label only one operand has.
        try Float64GradientTests.check("Einsum diagonal and sums", shape: [3, 3]) { b in
            b.constant("w", [3, 3])
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("Einsum", ["m"], ["d"], ["equation": .string("bii->bi")])
            b.node("Einsum", ["m", "x"], ["e"], ["equation": .string("bij,bjk->bk")])
            b.node("Einsum", ["x", "x"], ["g"], ["equation": .string("bij,bij->bi")])
            b.node("Concat", ["d", "e", "g"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 9)
        }
    }

    /// `am` [2, 3]: indices in 0..<4 computed at run time (ArgMax of x·0 + a constant), so that the
    /// finite-difference steps on x cannot move them.
    static func runTimeIndices(_ b: inout Builder) {
        b.constant("zero", [], values: [0])
        b.constant("pick", [2, 3, 4], values: (0..<24).map { Float(($0 * 7) % 11) })
        b.node("Mul", ["x", "zero"], ["x0"]); b.node("Add", ["x0", "pick"], ["sel"])
        b.node("ArgMax", ["sel"], ["am"], ["axis": .int(2), "keepdims": .int(0)])
    }

    @Test func gatherGradients() throws {
        try Float64GradientTests.check("GatherElements + GatherND", shape: [3, 4]) { b in
            b.constant("w", [4, 4])
            b.node("MatMul", ["x", "w"], ["m"])
            // Repeated and negative indices: their adjoints add up.
            b.graph.constants[b.id("ie")] = Tensor(shape: [2, 3, 2], integers: [0, 3, -1, 1, 2, 2, 3, 3, 0, -4, 1, 2])
            b.node("GatherElements", ["m", "ie"], ["ge"], ["axis": .int(2)])
            b.graph.constants[b.id("ind")] = Tensor(shape: [2, 3, 1], integers: [2, 0, 2, 1, -1, 1])
            b.node("GatherND", ["m", "ind"], ["gn"], ["batch_dims": .int(1)])
            b.node("Flatten", ["ge"], ["f1"], ["axis": .int(1)])
            b.node("Flatten", ["gn"], ["f2"], ["axis": .int(1)])
            b.node("Concat", ["f1", "f2"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 18)
        }
        // Indices computed at run time (ArgMax of the input), and a constant-index Gather on axis 1.
        try Float64GradientTests.check("Gather run-time indices", shape: [3, 4]) { b in
            b.constant("w", [4, 4])
            b.node("MatMul", ["x", "w"], ["m"])
            Self.runTimeIndices(&b)
            b.node("Gather", ["m", "am"], ["g"], ["axis": .int(2)])  // [2, 3, 2, 3]
            b.node("Flatten", ["g"], ["f1"], ["axis": .int(1)])
            b.graph.constants[b.id("i2")] = Tensor(shape: [2], integers: [-1, 0])
            b.node("Gather", ["m", "i2"], ["h"], ["axis": .int(1)])
            b.node("Flatten", ["h"], ["f2"], ["axis": .int(1)])
            b.node("Concat", ["f1", "f2"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 26)
        }
    }

    /// Position ids as RoBERTa exports compute them (int64 arithmetic: a mask's CumSum times the
    /// mask) index a run-time float value: the integer steps have no derivative and must not fail.
    @Test func integerArithmeticBeforeAGather() throws {
        try Float64GradientTests.check("int64 position ids", shape: [3, 4]) { b in
            b.constant("w", [4, 4])
            b.node("MatMul", ["x", "w"], ["m"])
            Self.runTimeIndices(&b)
            b.graph.constants[b.id("zeroInt")] = Tensor(shape: [], integers: [0])
            b.node("Equal", ["am", "zeroInt"], ["isZero"])
            b.node("Not", ["isZero"], ["keep"])
            b.node("Cast", ["keep"], ["keepInt"], ["to": .int(Int(DataType.int64.rawValue))])
            b.graph.constants[b.id("ax1")] = Tensor(shape: [], integers: [1])
            b.node("CumSum", ["keepInt", "ax1"], ["running"])
            b.node("Mul", ["running", "keepInt"], ["pos"])
            b.node("Gather", ["m", "pos"], ["g"], ["axis": .int(2)])  // [2, 3, 2, 3]
            b.node("Flatten", ["g"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 18)
        }
    }

    @Test func scanMaskAndReductionGradients() throws {
        try Float64GradientTests.check("CumSum + Trilu", shape: [4, 4]) { b in
            b.constant("w", [4, 4])
            b.node("MatMul", ["x", "w"], ["m"])
            b.graph.constants[b.id("k")] = Tensor(shape: [], integers: [-1])
            b.node("Trilu", ["m", "k"], ["t"], ["upper": .int(1)])
            b.graph.constants[b.id("ax")] = Tensor(shape: [], integers: [1])
            b.node("CumSum", ["t", "ax"], ["c1"], ["exclusive": .int(1), "reverse": .int(1)])
            b.graph.constants[b.id("ax2")] = Tensor(shape: [], integers: [-1])
            b.node("CumSum", ["c1", "ax2"], ["c2"])
            b.node("Flatten", ["c2"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 16)
        }
        // Masked attention: Where with a float branch, then reductions with axes as an input.
        try Float64GradientTests.check("Where mask + reductions with axes input", shape: [3, 4]) { b in
            b.constant("w", [4, 4])
            b.node("MatMul", ["x", "w"], ["m"])
            b.graph.constants[b.id("mask")] = Tensor(shape: [3, 4], values: [1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1], dataType: .bool)
            b.constant("neg", [], values: [-10000])
            b.node("Where", ["mask", "m", "neg"], ["s"])
            b.node("Softmax", ["s"], ["p"], ["axis": .int(-1)])
            b.constant("two", [], values: [2])
            b.node("Pow", ["m", "two"], ["sq"])
            b.ints("axes", [2])
            b.node("ReduceMean", ["sq", "axes"], ["mean"], ["keepdims": .int(1)])
            b.node("ReduceL2", ["m", "axes"], ["l2"], ["keepdims": .int(1)])
            b.node("ReduceSum", ["p", "axes"], ["ps"], ["keepdims": .int(1)])
            b.node("Add", ["mean", "l2"], ["ml"]); b.node("Add", ["ml", "ps"], ["r"])
            b.node("Mul", ["p", "r"], ["pr"])
            b.node("Flatten", ["pr"], ["f"], ["axis": .int(1)])
            Self.head(&b, "f", 12)
        }
    }

    /// One model through all the new rules, for the Hessian-vector products (their tangent and
    /// tangent-adjoint passes), with weights before and after every op.
    static func transformerModel() throws -> Model {
        var b = Builder()
        b.constant("wq", [4, 4]); b.constant("wk", [4, 4]); b.constant("wv", [4, 4])
        b.constant("wh", [3, 16]); b.constant("bh", [3], scale: 0.1)
        b.node("MatMul", ["x", "wq"], ["q"]); b.node("MatMul", ["x", "wk"], ["k"]); b.node("MatMul", ["x", "wv"], ["v"])
        b.node("Einsum", ["q", "k"], ["s"], ["equation": .string("bid,bjd->bij")])
        b.graph.constants[b.id("causal")] = Tensor(shape: [], integers: [0])
        b.node("Trilu", ["s", "causal"], ["sl"], ["upper": .int(0)])
        b.node("Softmax", ["sl"], ["p"], ["axis": .int(1)])
        b.node("Einsum", ["p", "v"], ["c"], ["equation": .string("bij,bjd->bid")])
        b.graph.constants[b.id("ax")] = Tensor(shape: [], integers: [1])
        b.node("CumSum", ["c", "ax"], ["cs"])
        b.graph.constants[b.id("ie")] = Tensor(shape: [2, 3, 2], integers: [0, 3, -1, 1, 2, 2, 3, 3, 0, -4, 1, 2])
        b.node("GatherElements", ["cs", "ie"], ["ge"], ["axis": .int(2)])
        b.graph.constants[b.id("ind")] = Tensor(shape: [2, 2, 1], integers: [2, 0, 1, 1])
        b.node("GatherND", ["cs", "ind"], ["gn"], ["batch_dims": .int(1)])
        Self.runTimeIndices(&b)
        b.node("Gather", ["v", "am"], ["gv"], ["axis": .int(2)])
        b.ints("axes", [1, 3])
        b.node("ReduceSum", ["gv", "axes"], ["gs"], ["keepdims": .int(0)])
        b.node("Flatten", ["ge"], ["f1"], ["axis": .int(1)])
        b.node("Flatten", ["gn"], ["f2"], ["axis": .int(1)])
        b.node("Concat", ["f1", "f2", "gs"], ["f"], ["axis": .int(1)])
        b.node("Gemm", ["f", "wh", "bh"], ["logits"], ["transB": .int(1)])
        return try b.finish(input: [3, 4], output: "logits", classes: 3)
    }

    @Test func hessianVectorProductsThroughTheNewRules() throws {
        let model = try Self.transformerModel()
        let ops = Set(model.graph.nodes.map(\.opType))
        for op in ["Einsum", "Trilu", "CumSum", "GatherElements", "GatherND", "Gather", "Softmax"] {
            #expect(ops.contains(op), "\(op) must still be in the graph to be tested: \(ops.sorted())")
        }
        try OpGradientTests.check(model, batch: 2, sampleShape: [3, 4], labels: [1, 2])
    }
}
