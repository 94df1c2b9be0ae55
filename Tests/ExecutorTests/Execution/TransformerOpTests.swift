import Executor
import Foundation
import Testing

/// The ops transformer exports add (Einsum, GatherElements, GatherND, CumSum, Trilu, IsInf) and
/// run-time index faults, on graphs built here and checked against direct loops.
@Suite("transformer ops and run-time index faults")
struct TransformerOpTests {
    /// A one-node graph: run-time `inputs` (name, type, shape), constant inputs, one output.
    struct OneNode {
        var graph = Graph(opset: 18)
        var ids: [String: ValueID] = [:]

        mutating func id(_ name: String) -> ValueID {
            if let id = ids[name] { return id }
            let id = graph.addValue(named: name)
            ids[name] = id
            return id
        }

        init(_ op: String, inputs: [(String, DataType, [Int])], constants: [String: Tensor] = [:], order: [String],
             attributes: [String: Attribute] = [:], outputs: Int = 1, opset: Int = 18) {
            graph = Graph(opset: opset)
            for (name, type, shape) in inputs {
                graph.inputs.append(ValueSpec(name: name, dataType: type, dims: shape))
                graph.inputIDs.append(id(name))
            }
            for (name, tensor) in constants { graph.constants[id(name)] = tensor }
            let outs = (0..<outputs).map { id("y\($0)") }
            graph.nodes.append(Node(name: "node", opType: op, inputs: order.map { $0.isEmpty ? nil : id($0) }, outputs: outs,
                                    attributes: attributes))
            graph.outputs = (0..<outputs).map { ValueSpec(name: "y\($0)", dataType: .float32, dims: [nil]) }
            graph.outputIDs = outs
        }

        func compile() throws -> CompiledGraph {
            try CompiledGraph(graph: graph, inputShapes: graph.inputs.map { $0.dims.map { $0! } })
        }
    }

    static func run(_ compiled: CompiledGraph, _ inputs: [[Float]]) -> [Float] {
        let buffers = inputs.map { values -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
            p.initialize(from: values, count: values.count)
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        compiled.run(buffers.map { UnsafePointer($0) })
        return Array(compiled.output(0))
    }

    static func random(_ count: Int, seed: Int) -> [Float] {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1
        }
    }

    // MARK: - Run-time index faults

    @Test func outOfRangeTokenIdIsAFaultNotARead() throws {
        let table = Tensor(shape: [10, 3], values: (0..<30).map(Float.init))
        let node = OneNode("Gather", inputs: [("ids", .int64, [2, 3])], constants: ["emb": table], order: ["emb", "ids"])
        let compiled = try node.compile()
        #expect(compiled.takeRuntimeFault() == nil)
        let good = Self.run(compiled, [[0, 9, -1, 3, 2, 1]])
        #expect(compiled.takeRuntimeFault() == nil)
        #expect(Array(good[3..<6]) == [27, 28, 29])
        #expect(Array(good[6..<9]) == [27, 28, 29], "−1 is the last row")
        let bad = Self.run(compiled, [[0, 10, 2, 3, -11, 1]])
        let fault = try #require(compiled.takeRuntimeFault())
        #expect(fault.message == "node 'node' (Gather): index 10 is out of range for axis 0 of size 10")
        #expect(Array(bad[3..<6]) == [0, 0, 0], "an out-of-range row is written as zeros")
        #expect(Array(bad[12..<15]) == [0, 0, 0])
        #expect(Array(bad[0..<3]) == [0, 1, 2])
        #expect(compiled.takeRuntimeFault() == nil, "taking the fault clears it")
        _ = Self.run(compiled, [[1, 2, 3, 4, 5, 1e9]])
        #expect(compiled.takeRuntimeFault()?.message == "node 'node' (Gather): index 1000000000 is out of range for axis 0 of size 10")
        _ = Self.run(compiled, [[1, 2, 3, 4, 5, .nan]])
        #expect(compiled.takeRuntimeFault()?.message.contains("index NaN") == true)
    }

    @Test func gatherOnAnotherAxisFaultsNamingTheAxis() throws {
        let data = Tensor(shape: [2, 4], values: (0..<8).map(Float.init))
        let node = OneNode("Gather", inputs: [("i", .int64, [3])], constants: ["d": data], order: ["d", "i"], attributes: ["axis": .int(-1)])
        let compiled = try node.compile()
        #expect(Self.run(compiled, [[3, -4, 1]]) == [3, 0, 1, 7, 4, 5])
        #expect(compiled.takeRuntimeFault() == nil)
        _ = Self.run(compiled, [[3, 4, 1]])
        #expect(compiled.takeRuntimeFault()?.message == "node 'node' (Gather): index 4 is out of range for axis 1 of size 4")
    }

    @Test func gatherElementsAndGatherNDFaultAtRunTime() throws {
        let data = Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let elements = try OneNode("GatherElements", inputs: [("i", .int64, [2, 2])], constants: ["d": data], order: ["d", "i"],
                                   attributes: ["axis": .int(1)]).compile()
        #expect(Self.run(elements, [[0, 2, -1, 1]]) == [1, 3, 6, 5])
        #expect(elements.takeRuntimeFault() == nil)
        #expect(Self.run(elements, [[0, 3, -1, 1]]) == [1, 0, 6, 5])
        #expect(elements.takeRuntimeFault()?.message == "node 'node' (GatherElements): index 3 is out of range for axis 1 of size 3")

        let nd = try OneNode("GatherND", inputs: [("i", .int64, [2, 2])], constants: ["d": data], order: ["d", "i"]).compile()
        #expect(Self.run(nd, [[1, 2, 0, -1]]) == [6, 3])
        #expect(Self.run(nd, [[2, 0, 0, 1]]) == [0, 2])
        #expect(nd.takeRuntimeFault()?.message == "node 'node' (GatherND): index 2 is out of range for axis 0 of size 2")
    }

    @Test func constantIndicesOutOfRangeFailAtCompileTime() throws {
        let data = Tensor(shape: [4, 2], values: [Float](repeating: 1, count: 8))
        for op in ["Gather", "GatherElements"] {
            let node = OneNode(op, inputs: [("x", .float32, [4, 2])], constants: ["i": Tensor(shape: [1, 2], integers: [0, 4])],
                               order: ["x", "i"])
            #expect { _ = try node.compile() } throws: { "\($0)".contains("index 4 is out of range for axis 0 of size 4") }
        }
        let nd = OneNode("GatherND", inputs: [("x", .float32, [4, 2])], constants: ["i": Tensor(shape: [1, 2], integers: [1, -3])],
                         order: ["x", "i"])
        #expect { _ = try nd.compile() } throws: { "\($0)".contains("index -3 is out of range for axis 1 of size 2") }
        _ = data
    }

    // MARK: - GatherND with batch dims, CumSum, Trilu, IsInf

    @Test func gatherNDWithBatchDims() throws {
        // data [2, 3, 2], indices [2, 2, 1], batch_dims 1: per batch, pick rows.
        let data = (0..<12).map(Float.init)
        let node = OneNode("GatherND", inputs: [("d", .float32, [2, 3, 2])],
                           constants: ["i": Tensor(shape: [2, 2, 1], integers: [2, 0, 1, 1])], order: ["d", "i"],
                           attributes: ["batch_dims": .int(1)])
        let compiled = try node.compile()
        #expect(compiled.outputTypes[0].shape == [2, 2, 2])
        #expect(Self.run(compiled, [data]) == [4, 5, 0, 1, 8, 9, 8, 9])
    }

    @Test func cumSumModes() throws {
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        func cumsum(_ exclusive: Int, _ reverse: Int, axis: Int64) throws -> [Float] {
            let node = OneNode("CumSum", inputs: [("x", .float32, [2, 3])], constants: ["a": Tensor(shape: [], integers: [axis])],
                               order: ["x", "a"], attributes: ["exclusive": .int(exclusive), "reverse": .int(reverse)])
            return Self.run(try node.compile(), [x])
        }
        #expect(try cumsum(0, 0, axis: 1) == [1, 3, 6, 4, 9, 15])
        #expect(try cumsum(1, 0, axis: -1) == [0, 1, 3, 0, 4, 9])
        #expect(try cumsum(0, 1, axis: 1) == [6, 5, 3, 15, 11, 6])
        #expect(try cumsum(1, 1, axis: 1) == [5, 3, 0, 11, 6, 0])
        #expect(try cumsum(0, 0, axis: 0) == [1, 2, 3, 5, 7, 9])
    }

    @Test func triluUpperAndLowerWithK() throws {
        let x = (1...12).map(Float.init)
        func trilu(_ upper: Int, _ k: Int64?) throws -> [Float] {
            var constants: [String: Tensor] = [:]
            if let k { constants["k"] = Tensor(shape: [], integers: [k]) }
            let node = OneNode("Trilu", inputs: [("x", .float32, [3, 4])], constants: constants, order: k == nil ? ["x"] : ["x", "k"],
                               attributes: ["upper": .int(upper)])
            return Self.run(try node.compile(), [x])
        }
        #expect(try trilu(1, nil) == [1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12])
        #expect(try trilu(0, nil) == [1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0])
        #expect(try trilu(1, 1) == [0, 2, 3, 4, 0, 0, 7, 8, 0, 0, 0, 12])
        #expect(try trilu(0, -1) == [0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0])
        #expect(try trilu(1, -5) == x)
        #expect(try trilu(0, 9) == x)
    }

    @Test func isInfDetectsEachSign() throws {
        let x: [Float] = [1, .infinity, -.infinity, .nan]
        func isInf(_ positive: Int, _ negative: Int) throws -> [Float] {
            let node = OneNode("IsInf", inputs: [("x", .float32, [4])], order: ["x"],
                               attributes: ["detect_positive": .int(positive), "detect_negative": .int(negative)])
            let compiled = try node.compile()
            #expect(compiled.outputTypes[0].dataType == .bool)
            return Self.run(compiled, [x])
        }
        #expect(try isInf(1, 1) == [0, 1, 1, 0])
        #expect(try isInf(1, 0) == [0, 1, 0, 0])
        #expect(try isInf(0, 1) == [0, 0, 1, 0])
    }

    /// Opset 18 reductions take their axes as input 1 (ReduceSum since 13); an empty axes input
    /// reduces everything unless `noop_with_empty_axes` is set.
    @Test func reductionsWithAxesAsAnInput() throws {
        let x: [Float] = [1, 5, 3, 4, 2, 6]
        func reduce(_ op: String, _ axes: [Int64], keepdims: Int = 1, noop: Int = 0) throws -> ([Int], [Float]) {
            let node = OneNode(op, inputs: [("x", .float32, [2, 3])], constants: ["axes": Tensor(shape: [axes.count], integers: axes)],
                               order: ["x", "axes"], attributes: ["keepdims": .int(keepdims), "noop_with_empty_axes": .int(noop)])
            let compiled = try node.compile()
            return (compiled.outputTypes[0].shape, Self.run(compiled, [x]))
        }
        #expect(try reduce("ReduceMax", [1]) == ([2, 1], [5, 6]))
        #expect(try reduce("ReduceMean", [-1], keepdims: 0) == ([2], [3, 4]))
        #expect(try reduce("ReduceSum", [0], keepdims: 0) == ([3], [5, 7, 9]))
        #expect(try reduce("ReduceL2", [1]).1.map { ($0 * 1000).rounded() } == [5916, 7483])
        #expect(try reduce("ReduceMin", [], keepdims: 0) == ([], [1]))
        #expect(try reduce("ReduceSum", [], noop: 1) == ([2, 3], x))
    }

    /// Softmax before opset 13 normalises over the input flattened to 2-D at `axis`; from 13 over
    /// that one axis.
    @Test func softmaxAxisSemanticsByOpset() throws {
        let x = Self.random(12, seed: 3)
        func softmax(opset: Int, axis: Int) throws -> [Float] {
            let node = OneNode("Softmax", inputs: [("x", .float32, [2, 2, 3])], order: ["x"], attributes: ["axis": .int(axis)], opset: opset)
            return Self.run(try node.compile(), [x])
        }
        func reference(_ groups: [[Int]]) -> [Float] {
            var y = [Float](repeating: 0, count: 12)
            for group in groups {
                let m = group.map { x[$0] }.max()!
                let sum = group.reduce(Float(0)) { $0 + exp(x[$1] - m) }
                for i in group { y[i] = exp(x[i] - m) / sum }
            }
            return y
        }
        func close(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) < 1e-6 } }
        #expect(close(try softmax(opset: 11, axis: 1), reference([Array(0..<6), Array(6..<12)])))
        #expect(close(try softmax(opset: 13, axis: 1), reference([[0, 3], [1, 4], [2, 5], [6, 9], [7, 10], [8, 11]])))
        #expect(close(try softmax(opset: 13, axis: 0), reference((0..<6).map { [$0, $0 + 6] })))
    }

    @Test func geluExactAndTanh() throws {
        let x: [Float] = [-3, -1, -0.5, 0, 0.5, 1, 3]
        for approximate in ["none", "tanh"] {
            let node = OneNode("Gelu", inputs: [("x", .float32, [7])], order: ["x"], attributes: ["approximate": .string(approximate)], opset: 20)
            let y = Self.run(try node.compile(), [x])
            for (v, got) in zip(x, y) {
                let d = Double(v)
                let want = approximate == "none" ? 0.5 * d * (1 + erf(d / 2.0.squareRoot()))
                    : 0.5 * d * (1 + tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
                #expect(abs(Double(got) - want) < 1e-5, "Gelu \(approximate)(\(v)) = \(got), want \(want)")
            }
        }
    }

    /// Casts into bool treat every non-zero (NaN, ±inf included) as true; casts into integers
    /// truncate and never trap, whatever the float.
    @Test func castToBoolAndIntegers() throws {
        let x: [Float] = [0, -0.0, 2.5, -2.5, .nan, .infinity, 1e20]
        func cast(_ to: DataType) throws -> [Float] {
            let node = OneNode("Cast", inputs: [("x", .float32, [7])], order: ["x"], attributes: ["to": .int(to.rawValue)])
            let compiled = try node.compile()
            #expect(compiled.outputTypes[0].dataType == to)
            return Self.run(compiled, [x])
        }
        #expect(try cast(.bool) == [0, 0, 1, 1, 1, 1, 1])
        let int64 = try cast(.int64)
        #expect(Array(int64[0..<4]) == [0, 0, 2, -2])
        #expect(int64[4...].allSatisfy { $0.isFinite }, "NaN, inf and 1e20 are out of range (unspecified) but never trap")
        let int32 = try cast(.int32)
        #expect(Array(int32[0..<4]) == [0, 0, 2, -2])
        let back = OneNode("Cast", inputs: [("b", .bool, [3])], order: ["b"], attributes: ["to": .int(DataType.float32.rawValue)])
        #expect(Self.run(try back.compile(), [[1, 0, 1]]) == [1, 0, 1])
    }

    // MARK: - Einsum

    /// Direct evaluation: every assignment of every letter, products of the operands (dims of 1 broadcast).
    static func einsumReference(_ equation: String, _ shapes: [[Int]], _ operands: [[Double]]) -> (shape: [Int], values: [Double]) {
        let sides = equation.replacingOccurrences(of: " ", with: "").components(separatedBy: "->")
        var terms = sides[0].components(separatedBy: ",").map { Array($0) }
        // Expand "..." into capital letters Z, Y, ... right-aligned (the tests use lowercase letters only).
        let ellipsisRank = zip(terms, shapes).map { term, shape in term.contains(".") ? shape.count - (term.count - 3) : 0 }.max()!
        let ellipsis = (0..<ellipsisRank).map { Character(UnicodeScalar(UInt8(65 + $0))) }
        func expand(_ term: [Character], rank: Int) -> [Character] {
            guard let dot = term.firstIndex(of: ".") else { return term }
            let own = rank - (term.count - 3)
            return Array(term[..<dot]) + ellipsis.suffix(own) + Array(term[(dot + 3)...])
        }
        terms = zip(terms, shapes).map { expand($0, rank: $1.count) }
        var output: [Character]
        if sides.count == 2 {
            output = expand(Array(sides[1]), rank: ellipsisRank + Array(sides[1]).filter { $0 != "." }.count)
        } else {
            let letters = terms.joined().filter { $0.isLowercase }
            output = ellipsis + Set(letters).filter { c in letters.filter { $0 == c }.count == 1 }.sorted()
        }
        var sizes: [Character: Int] = [:]
        for (term, shape) in zip(terms, shapes) { for (c, n) in zip(term, shape) { sizes[c] = max(sizes[c] ?? 1, n) } }
        let letters = Array(sizes.keys).sorted()
        let outShape = output.map { sizes[$0]! }
        var out = [Double](repeating: 0, count: outShape.reduce(1, *))
        let total = letters.reduce(1) { $0 * sizes[$1]! }
        for flat in 0..<total {
            var value: [Character: Int] = [:], rest = flat
            for c in letters.reversed() {
                value[c] = rest % sizes[c]!
                rest /= sizes[c]!
            }
            var product = 1.0
            for (k, (term, shape)) in zip(terms, shapes).enumerated() {
                var offset = 0
                for (c, n) in zip(term, shape) { offset = offset * n + (n == 1 ? 0 : value[c]!) }
                product *= operands[k][offset]
            }
            var o = 0
            for c in output { o = o * sizes[c]! + value[c]! }
            out[o] += product
        }
        return (outShape, out)
    }

    @Test(arguments: [
        ("bhid,bhjd->bhij", [[2, 3, 4, 5], [2, 3, 6, 5]]),
        ("bhij,bhjd->bhid", [[2, 3, 4, 6], [2, 3, 6, 5]]),
        ("ij,jk->ik", [[3, 4], [4, 5]]),
        ("ij,jk", [[3, 4], [4, 5]]),
        ("ij,kj->ki", [[3, 4], [5, 4]]),
        ("ii->i", [[4, 4]]),
        ("ii", [[4, 4]]),
        ("ij->", [[3, 4]]),
        ("ij->ji", [[3, 4]]),
        ("i,i->", [[5], [5]]),
        ("i,j->ij", [[3], [4]]),
        ("bij->bj", [[2, 3, 4]]),
        ("...ij,...jk->...ik", [[2, 1, 3, 4], [5, 4, 2]]),
        ("...ij->...ji", [[2, 3, 4]]),
        ("b...d,bd->b...", [[2, 3, 4, 5], [2, 5]]),
        ("iij,jk->ik", [[3, 3, 4], [4, 2]]),
        ("abc,cd->abd", [[2, 3, 4], [4, 5]]),
        ("abc,ad->bd", [[2, 3, 4], [2, 5]]),
        ("bij,bjk,bkl->bil", [[2, 3, 4], [2, 4, 5], [2, 5, 3]]),
        ("ij,jk,k->i", [[3, 4], [4, 5], [5]]),
    ])
    func einsumMatchesDirectEvaluation(_ equation: String, _ shapes: [[Int]]) throws {
        let operands = shapes.enumerated().map { Self.random($1.reduce(1, *), seed: $0 + equation.count) }
        let names = shapes.indices.map { "x\($0)" }
        let node = OneNode("Einsum", inputs: shapes.indices.map { (names[$0], DataType.float32, shapes[$0]) }, order: names,
                           attributes: ["equation": .string(equation)])
        let compiled = try node.compile()
        let reference = Self.einsumReference(equation, shapes, operands.map { $0.map(Double.init) })
        #expect(compiled.outputTypes[0].shape == reference.shape, "\(equation)")
        let got = Self.run(compiled, operands)
        let error = zip(got, reference.values).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(got.count == reference.values.count && error < 1e-4, "\(equation): max error \(error)")
    }

    @Test func einsumRejectsMalformedEquationsClearly() throws {
        for (equation, message) in [("ij->ik", "output subscript 'k' is in no operand"), ("ij->ii", "repeats in the output"),
                                    ("ijk->i", "has 3 subscripts"), ("i1->i", "is not a subscript letter")] {
            let node = OneNode("Einsum", inputs: [("a", .float32, [3, 3])], order: ["a"], attributes: ["equation": .string(equation)])
            #expect { _ = try node.compile() } throws: { "\($0)".contains(message) && "\($0)".contains("Einsum") }
        }
    }
}
