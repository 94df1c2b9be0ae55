import Executor
import Foundation
import Synchronization

/// Accuracy with only one layer quantized (the AIMET-style per-layer accuracy drop): for each
/// layer and bit-width, the plan that keeps every other layer in FP32 and gives this layer
/// `QuantizerSpec.int(bits)` (symmetric, per output channel, absmax), evaluated by the workbench's
/// `PlanEvaluator`, which resumes each pass at the layer from the cached FP32 prefix activations.
public enum SingleLayerAccuracy {
    /// The bit-widths analysed by default.
    public static let defaultBits = [2, 4]

    /// Evaluates every layer at every width in `bits`. `progress` gets each layer's result as soon as
    /// its widths are done; `isCancelled` is checked between plans (throws `CancellationError`).
    ///
    /// Blocks the calling thread while the evaluator (an actor) works: call it from a thread of your
    /// own or the main thread, never from a task of the cooperative pool.
    public static func run(evaluator: PlanEvaluator, bits: [Int] = defaultBits,
                           progress: ((Int, LayerAccuracy) -> Void)? = nil,
                           isCancelled: () -> Bool = { false }) throws -> [LayerAccuracy] {
        let model = evaluator.model
        let float = Plan(model: model)
        let reference = try blocking { try await evaluator.evaluate(float) }
        // Without labels the metric is agreement with FP32, which is 1 for the FP32 plan itself.
        let referenceAccuracy = reference.orientedScore
        var results: [LayerAccuracy] = []
        for (l, layer) in model.layers.enumerated() {
            var accuracy: [Int: Double] = [:]
            for b in bits {
                if isCancelled() { throw CancellationError() }
                var plan = float
                plan.choices[l] = LayerChoice(weights: .int(b))
                let evaluation = try blocking { [plan] in try await evaluator.evaluate(plan) }
                accuracy[b] = evaluation.orientedScore
            }
            let result = LayerAccuracy(name: layer.name, accuracy: accuracy, referenceAccuracy: referenceAccuracy,
                                       samples: evaluator.dataset.count)
            results.append(result)
            progress?(l, result)
        }
        return results
    }

    /// Runs `body` on the cooperative pool and waits for it on this thread.
    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let slot = Slot<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            let result: Result<T, Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            slot.value.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try slot.value.withLock { $0! }.get()
    }

    /// Where the task leaves its result for the waiting thread.
    private final class Slot<T: Sendable>: Sendable {
        let value = Mutex<Result<T, Error>?>(nil)
    }
}
