import Executor
import Foundation
import Synchronization
import Testing
import Analysis

/// The Compare view's worker: latest wins, a superseded or cancelled comparison publishes nothing,
/// and the real rows equal `QuantizerComparison`'s (what `qscope compare --layer` prints). Slow rows
/// are held at `Gate`s or suspended until cancelled, and every wait is bounded (`finishesInTime`), so
/// a regression fails these tests instead of hanging them.
@Suite("layer compare engine")
struct LayerCompareEngineTests {
    final class EventLog: Sendable {
        private let events = Mutex<[CompareEvent]>([])
        func append(_ event: CompareEvent) { events.withLock { $0.append(event) } }
        var all: [CompareEvent] { events.withLock { $0 } }
    }

    static func row(_ spec: QuantizerSpec, layer: Int) -> QuantizerComparison.Row {
        QuantizerComparison.Row(quantizer: spec.description, activations: nil, smoothedLayers: nil, bitsPerWeight: Double(spec.bits),
                                sizeMB: Double(layer), denseSizeMB: nil, weightSQNR: 1, outputSQNR: 2, accuracy: 0.5, delta: 0,
                                seconds: 0)
    }

    @Test("a superseded comparison publishes nothing after the new request, even when its row returns")
    func superseded() async throws {
        let log = EventLog()
        let entered = Gate()
        let engine = LayerCompareEngine(specs: { _ in [.int(4), .int(3)] }, row: { spec, layer in
            if layer == 0 {
                entered.open()
                // Layer 0's first row works until superseded, then returns a result anyway.
                await untilCancelled()
            }
            return Self.row(spec, layer: layer)
        }, post: log.append)
        await engine.start(layer: 0, bits: 4, generation: 1)
        guard await finishesInTime("layer 0's first row to start", { await entered.wait() }) else { return }
        await engine.start(layer: 1, bits: 4, generation: 2)
        guard await finishesInTime("layer 1's comparison", { await engine.settle() }) else { return }
        let specs: [QuantizerSpec] = [.int(4), .int(3)]
        #expect(log.all == [
            .started(generation: 1, layer: 0, bits: 4, quantizers: ["int4", "int3"]),
            .started(generation: 2, layer: 1, bits: 4, quantizers: ["int4", "int3"]),
            .row(generation: 2, index: 0, Self.row(specs[0], layer: 1)),
            .row(generation: 2, index: 1, Self.row(specs[1], layer: 1)),
            .finished(generation: 2),
        ])
        // An older generation arriving late is ignored.
        await engine.start(layer: 0, bits: 4, generation: 1)
        guard await finishesInTime("the engine to settle", { await engine.settle() }) else { return }
        #expect(log.all.count == 5)
    }

    @Test("cancel (the view closed) stops the comparison: nothing more is published")
    func cancelled() async throws {
        let log = EventLog()
        let entered = Gate()
        let engine = LayerCompareEngine(specs: { _ in [.int(4), .int(3)] }, row: { spec, layer in
            entered.open()
            await untilCancelled()
            return Self.row(spec, layer: layer)
        }, post: log.append)
        await engine.start(layer: 2, bits: 4, generation: 7)
        guard await finishesInTime("the first row to start", { await entered.wait() }) else { return }
        await engine.cancel()
        guard await finishesInTime("the cancelled comparison to stop", { await engine.settle() }) else { return }
        #expect(log.all == [.started(generation: 7, layer: 2, bits: 4, quantizers: ["int4", "int3"])])
    }

    @Test("a stale generation (older than the latest started) is dropped: it neither runs nor stops the latest")
    func staleGenerationDropped() async {
        let log = EventLog()
        let entered = Gate(), resume = Gate()
        let layers = Mutex<[Int]>([])
        let engine = LayerCompareEngine(specs: { _ in [.int(4)] }, row: { spec, layer in
            layers.withLock { $0.append(layer) }
            entered.open()
            await resume.wait()
            try Task.checkCancellation()
            return Self.row(spec, layer: layer)
        }, post: log.append)
        await engine.start(layer: 3, bits: 4, generation: 9)
        guard await finishesInTime("the row to start", { await entered.wait() }) else { return }
        await engine.start(layer: 0, bits: 4, generation: 8)  // reached the engine late
        resume.open()
        guard await finishesInTime("the comparison to finish", { await engine.settle() }) else { return }
        #expect(layers.withLock { $0 } == [3])
        #expect(log.all == [
            .started(generation: 9, layer: 3, bits: 4, quantizers: ["int4"]),
            .row(generation: 9, index: 0, Self.row(.int(4), layer: 3)),
            .finished(generation: 9),
        ])
    }

    @Test("bad bits fail with one message")
    func failure() async throws {
        let log = EventLog()
        let engine = LayerCompareEngine(row: { spec, layer in Self.row(spec, layer: layer) }, post: log.append)
        await engine.start(layer: 0, bits: 1, generation: 1)
        guard await finishesInTime("the failing comparison", { await engine.settle() }) else { return }
        #expect(log.all == [.failed(generation: 1, message: "--bits must be 2..16, got 1")])
    }

    @Test("real rows on the CNN equal QuantizerComparison's for that layer (others FP32), lut Fisher-weighted")
    func realRows() async throws {
        let (model, data) = try FisherLookupTableTests.loadCNN(samples: 64)
        let evaluator = try PlanEvaluator(model: model, dataset: data, batchSize: 64, fisherSamples: 32)
        let log = EventLog()
        let specs: [QuantizerSpec] = [.int(3), try QuantizerSpec(parsing: "lut3")]
        let engine = LayerCompareEngine(evaluator: evaluator, batch: 64, post: log.append)
        await engine.start(layer: 5, bits: 3, generation: 1)
        await engine.settle()
        let rows = log.all.compactMap { event -> QuantizerComparison.Row? in
            if case .row(_, _, let row) = event { return row }
            return nil
        }
        #expect(rows.map(\.quantizer) == (try QuantizerComparison.specs(bits: 3)).map(\.description))
        #expect(log.all.last == .finished(generation: 1))
        let fisher = try FisherDiagonal.compute(model: model, data: data, samples: 32)
        let direct = QuantizerComparison(model: model, dataset: data, batch: 64, fisher: fisher)
        let baseline = try direct.baseline()
        for spec in specs {
            let want = try direct.row(spec, layers: [model.layers[5]], baseline: baseline)
            let got = try #require(rows.first { $0.quantizer == spec.description })
            #expect(got.bitsPerWeight == want.bitsPerWeight && got.weightSQNR == want.weightSQNR)
            #expect(got.outputSQNR == want.outputSQNR && got.accuracy == want.accuracy && got.delta == want.delta)
            #expect(got.fisherWeighted == spec.usesSensitivity)
        }
    }
}
