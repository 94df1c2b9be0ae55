import Analysis
import Executor
import Workbench

/// Deterministic screen states for reducer and snapshot tests: a CNN-shaped model summary with
/// pseudo-random Gaussian weights and hand-written evaluation numbers (nothing is timed or run).
enum Fixtures {
    static let layerSpecs: [(String, String, [Int])] = [
        ("/stem/stem.0/Conv", "Conv", [32, 1, 3, 3]),
        ("/layer1/conv1/Conv", "Conv", [32, 32, 3, 3]),
        ("/layer1/conv2/Conv", "Conv", [32, 32, 3, 3]),
        ("/layer2/conv1/Conv", "Conv", [64, 32, 3, 3]),
        ("/layer2/conv2/Conv", "Conv", [64, 64, 3, 3]),
        ("/layer2/shortcut/shortcut.0/Conv", "Conv", [64, 32, 1, 1]),
        ("/layer3/conv1/Conv", "Conv", [64, 64, 3, 3]),
        ("/layer3/conv2/Conv", "Conv", [64, 64, 3, 3]),
        ("/fc/Gemm", "Gemm", [10, 64]),
    ]

    /// Box–Muller normals from a fixed LCG, scaled per layer.
    static func weights(count: Int, seed: UInt64, scale: Float) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 0.5) / Double(1 << 53)
        }
        return (0..<count).map { _ in
            let r = (-2 * log(uniform())).squareRoot(), t = 2 * Double.pi * uniform()
            return Float(r * cos(t)) * scale
        }
    }

    static let model: ModelSummary = {
        let layers = layerSpecs.enumerated().map { i, spec in
            let count = spec.2.reduce(1, *)
            let values = weights(count: count, seed: UInt64(i + 1), scale: 0.3 / Float(i + 1).squareRoot())
            return ModelSummary.Layer(name: spec.0, opType: spec.1, parameters: count, weightShape: spec.2, outputAxis: 0,
                                      weights: WeightSummary(values: values, shape: spec.2, outputAxis: 0))
        }
        return ModelSummary(path: "sample-models/cnn.onnx", dataPath: "sample-models/fashion-mnist-test-2000.npz",
                            samples: 2000, layers: layers)
    }()

    static var floatPlan: Plan { Plan(layerNames: model.layerNames) }

    /// Fixed per-layer numbers for a choice: int b -> SQNR ≈ 6.02 b − 3 dB, one FP32 scale per channel.
    static func layerResult(_ i: Int, _ choice: LayerChoice) -> LayerQuantization {
        let layer = model.layers[i]
        guard let spec = choice.weights else { return .float(parameters: layer.parameters) }
        let b = spec.bits
        let rows = layer.weightShape[0]
        let absMax = layer.weights.absMax
        let steps = (1 << (b - 1)) - 1
        let levels: [Float] = b <= 6 ? (-steps...steps).map { Float($0) * absMax / Float(steps) } : []
        return LayerQuantization(parameters: layer.parameters, payloadBits: layer.parameters * b,
                                 totalBits: layer.parameters * b + rows * 32, sqnrDB: 6.02 * Double(b) - 3,
                                 gridLevels: levels)
    }

    static func evaluation(_ plan: Plan, correct: Int = 1851, reference: Int = 1857) -> PlanEvaluation {
        let layers = plan.choices.enumerated().map { layerResult($0.offset, $0.element) }
        let metrics = FidelityMetrics(accuracy: Double(correct) / 2000, agreement: 0.98, cosineMean: 0.995,
                                      cosineMin: 0.9, sqnrDB: 21.5, kl: 0.01)
        let fp32 = FidelityMetrics(accuracy: Double(reference) / 2000, agreement: 1, cosineMean: 1, cosineMin: 1,
                                   sqnrDB: .infinity, kl: 0)
        return PlanEvaluation(plan: plan, samples: 2000, metrics: metrics, referenceMetrics: fp32, headline: .accuracy,
                              correct: correct, agreement: 1960, positions: 2000, referenceCorrect: reference,
                              layers: layers, size: PlanSize(layers),
                              referenceSize: PlanSize(model.layers.indices.map { .float(parameters: model.layers[$0].parameters) }),
                              seconds: 0.042, resumedAtLayer: 3)
    }

    /// A state after opening: the FP32 evaluation has landed (through the reducer, so the
    /// background analysis has been asked for, as in a real run).
    static func openedState(size: Size = Size(width: 120, height: 40)) -> AppState {
        var state = AppState(model: model, size: size, themeNames: ["dark", "light", "mono"])
        _ = initialEffects(&state)
        _ = reduce(&state, .engine(.finished(generation: state.requestedGeneration, evaluation(state.plan, correct: 1857))))
        return state
    }

    /// A mixed plan (int8 everywhere, layer 4 at int3, fc float) evaluated, layer 4 selected.
    static func editedState(size: Size = Size(width: 120, height: 40)) -> AppState {
        var state = openedState(size: size)
        var plan = state.plan
        for i in plan.choices.indices { plan.choices[i].weights = .int(8) }
        plan.choices[4].weights = .int(3)
        plan.choices[8].weights = nil
        state.undoStack = [state.plan]
        state.plan = plan
        state.selection = 4
        state.evaluation = evaluation(plan, correct: 1801)
        return state
    }
}

import Foundation
