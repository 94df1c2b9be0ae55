import Executor
import TestSupport
import Testing
import Analysis

/// The exact HAWQ-V3 allocation: the dynamic program against brute force over every combination,
/// its discretisation against the true budget, and the Ω-greedy heuristic it must never lose to.
@Suite("bit allocation")
struct AllocationTests {
    /// Every combination of one option per group: (Σ size, Σ cost, choice).
    static func enumerate(_ groups: [[MultipleChoiceKnapsack.Option]]) -> [(Int, Double, [Int])] {
        var results: [(Int, Double, [Int])] = [(0, 0, [])]
        for options in groups {
            results = results.flatMap { partial in
                options.enumerated().map { (partial.0 + $0.element.size, partial.1 + $0.element.cost, partial.2 + [$0.offset]) }
            }
        }
        return results
    }

    static func randomGroups(_ rng: inout SeededGenerator) -> [[MultipleChoiceKnapsack.Option]] {
        let count = Int.random(in: 1...6, using: &rng)
        return (0..<count).map { _ in
            (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                MultipleChoiceKnapsack.Option(size: Int.random(in: 0...12, using: &rng), cost: Double.random(in: 0...10, using: &rng))
            }
        }
    }

    @Test("DP optimum equals brute force at every capacity (200 seeded random instances)")
    func dynamicProgramEqualsBruteForce() {
        var rng = SeededGenerator(seed: 2026)
        for instance in 0..<200 {
            let groups = Self.randomGroups(&rng)
            let all = Self.enumerate(groups)
            let capacity = Int.random(in: 0...(groups.count * 12), using: &rng)
            let table = MultipleChoiceKnapsack(groups: groups, capacity: capacity)
            for b in 0...capacity {
                let feasible = all.filter { $0.0 <= b }
                let bruteBest = feasible.map(\.1).min()
                let solution = table.solution(capacity: b)
                #expect((bruteBest == nil) == (solution == nil), "instance \(instance) capacity \(b)")
                guard let bruteBest, let solution else { continue }
                let size = zip(groups, solution).reduce(0) { $0 + $1.0[$1.1].size }
                let cost = zip(groups, solution).reduce(0.0) { $0 + $1.0[$1.1].cost }
                #expect(size <= b, "instance \(instance): the choice exceeds capacity \(b)")
                // Same sums in another order: equal within rounding (1e-9 relative).
                #expect(abs(cost - bruteBest) <= 1e-9 * max(1, bruteBest), "instance \(instance) capacity \(b): \(cost) vs \(bruteBest)")
                #expect(abs(table.best[b] - cost) <= 1e-9 * max(1, cost))
            }
            // Each breakpoint is a distinct choice with a strictly lower optimum.
            let optima = table.breakpoints.map { table.best[$0] }
            #expect(zip(optima, optima.dropFirst()).allSatisfy { $0 > $1 })
        }
    }

    /// Random layers whose sizes are not multiples of the resolution.
    static func randomLayers(_ rng: inout SeededGenerator, count: Int) -> [LayerCandidates] {
        (0..<count).map { l in
            let parameters = Int.random(in: 50...400, using: &rng)
            var error = Double.random(in: 1...5, using: &rng)
            let candidates = [2, 3, 4, 8].map { bits -> BitCandidate in
                error *= Double.random(in: 0.1...0.5, using: &rng)
                let metadata = Int.random(in: 0...97, using: &rng)
                return BitCandidate(spec: .int(bits), totalBits: parameters * bits + metadata, payloadBits: parameters * bits, squaredError: error)
            }
            return LayerCandidates(name: "layer\(l)", parameters: parameters,
                                   tracePerParameter: Double.random(in: -0.1...3, using: &rng), candidates: candidates)
        }
    }

    @Test("rounded sizes: the plan never exceeds the true budget and is optimal for the rounded problem; Ω-greedy never beats it")
    func discretisationAndGreedy() {
        var rng = SeededGenerator(seed: 7)
        for instance in 0..<60 {
            let layers = Self.randomLayers(&rng, count: Int.random(in: 1...5, using: &rng))
            let problem = AllocationProblem(layers: layers, resolutionBits: Int.random(in: 1...64, using: &rng))
            let minimum = layers.reduce(0) { $0 + $1.candidates[0].totalBits }
            let maximum = layers.reduce(0) { $0 + $1.candidates[3].totalBits }
            let budget = Int.random(in: minimum...maximum + 50, using: &rng)
            let combos = Self.enumerate(problem.groups)
            let bruteBest = combos.filter { $0.0 <= problem.units(ofBudget: budget) }.map(\.1).min()
            guard let choice = problem.allocate(budgetBits: budget) else {
                #expect(bruteBest == nil, "instance \(instance): DP found nothing, brute force did")
                continue
            }
            #expect(CandidateBuilder.totalBits(layers, choices: choice) <= budget, "instance \(instance)")
            let omega = CandidateBuilder.omega(layers, choices: choice)!
            #expect(abs(omega - bruteBest!) <= 1e-9 * max(1, bruteBest!), "instance \(instance): \(omega) vs \(bruteBest!)")
            // The heuristic on the same rounded sizes is feasible, so the optimum is at most its Ω.
            let units = problem.groups
            if let greedy = OmegaGreedyAllocator.allocate(layers, budget: problem.units(ofBudget: budget), size: { units[$0][$1].size }) {
                #expect(omega <= CandidateBuilder.omega(layers, choices: greedy)! + 1e-12, "instance \(instance)")
            }
        }
    }

    @Test("bit lists and family templates: what parses and the one-line refusals")
    func parsing() throws {
        #expect(try BitWidthList.parse("8, 2,4") == [2, 4, 8])
        #expect(throws: QScopeError.self) { try BitWidthList.parse("2,x") }
        #expect(throws: QScopeError.self) { try BitWidthList.parse("1,4") }
        #expect(throws: QScopeError.self) { try BitWidthList.parse("4,4") }
        #expect(throws: QScopeError.self) { try BitWidthList.parse("") }
        #expect(try QuantizerFamilyTemplate("intB", bitWidths: [2, 8]).spec(bits: 3) == .int(3))
        #expect(try QuantizerFamilyTemplate("int:asym:group=32", bitWidths: [4]).spec(bits: 4).description == "int4:asym:group=32")
        #expect(try QuantizerFamilyTemplate("fp", bitWidths: [4, 6, 8]).spec(bits: 6).description == "fp6:e3m2")
        #expect(try QuantizerFamilyTemplate("split3:intB", bitWidths: [2]).spec(bits: 2).description == "split3:int2")
        do {
            _ = try QuantizerFamilyTemplate("fp", bitWidths: [3, 4])
            Issue.record("fp3 accepted")
        } catch let error as QScopeError {
            #expect(error.message.hasPrefix("--family 'fp' cannot express 3 bits"))
        }
        #expect(throws: QScopeError.self) { try QuantizerFamilyTemplate("int4", bitWidths: [4]) }
        #expect(throws: QScopeError.self) { try QuantizerFamilyTemplate("pot", bitWidths: [8]) }
    }

    @Test("budgets: units and the refusal that names the minimum")
    func budgets() throws {
        var rng = SeededGenerator(seed: 1)
        let layers = Self.randomLayers(&rng, count: 3)
        let parameters = layers.reduce(0) { $0 + $1.parameters }
        #expect(SizeBudget.averageBits(4).bits(parameters: parameters) == 4 * parameters)
        #expect(SizeBudget.megabytes(1).bits(parameters: 1) == 8 << 20)
        do {
            _ = try SizeBudget.averageBits(1).check(against: layers)
            Issue.record("a budget below the minimum was accepted")
        } catch let error as QScopeError {
            #expect(error.message.contains("below the smallest plan") && error.message.contains("bits per weight"))
        }
        #expect(try SizeBudget.averageBits(8.5).check(against: layers) == Int(8.5 * Double(parameters)))
    }
}
