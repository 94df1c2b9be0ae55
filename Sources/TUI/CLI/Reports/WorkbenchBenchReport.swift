import Analysis

/// `qscope bench --workbench`: the workbench's response times (milliseconds throughout), measured
/// by `WorkbenchBenchmark`.
struct WorkbenchBenchReport: CommandReport {
    var model: String
    var samples: Int
    var layers: Int
    /// The FP32 pass and prefix-cache fill of the open.
    var openMs: Double
    /// One-layer edit -> accuracy, per layer in turn (see `WorkbenchBenchmark` for cold/first/repeat).
    var perLayer: [LayerEdit]
    /// A user walking down the Layers table through the engine: per layer, `-` to new accuracy.
    var walkEditMs: [Double]
    /// Through the `Engine` actor, submit -> finished: a repeat edit, an edit prefetched while
    /// idle, an edit adopted from the prefetch in flight.
    var engineEditMs: Double
    var enginePrefetchedEditMs: Double
    var engineAdoptedEditMs: Double
    /// Frame times of a 120x40 screen: full repaint, and the frame after an edit.
    var frameFullMs: [Double]
    var frameEditMs: [Double]
    /// Text only: the batch size, the FP32 accuracy of the open, the layer edited through the engine.
    var batch: Int
    var referenceAccuracy: Double
    var engineLayer: Int

    struct LayerEdit: Encodable {
        var layer: String
        var coldMs: Double
        var firstMs: Double
        var repeatMs: Double
        /// Where the first and the repeated evaluation resumed from the prefix cache.
        var firstResumedAtLayer: Int
        var resumedAtLayer: Int

        private enum CodingKeys: String, CodingKey {
            case layer, coldMs = "cold_ms", firstMs = "first_ms", repeatMs = "repeat_ms"
            case firstResumedAtLayer = "first_resumed_at_layer", resumedAtLayer = "resumed_at_layer"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case model, samples, layers, openMs = "open_ms"
        case editRepeatMedianMs = "edit_repeat_median_ms", editRepeatMaxMs = "edit_repeat_max_ms"
        case editFirstMedianMs = "edit_first_median_ms", editFirstMaxMs = "edit_first_max_ms"
        case editColdMedianMs = "edit_cold_median_ms", editColdMaxMs = "edit_cold_max_ms"
        case walkEditMedianMs = "walk_edit_median_ms", walkEditMaxMs = "walk_edit_max_ms", walkEditMs = "walk_edit_ms"
        case engineEditMs = "engine_edit_ms", enginePrefetchedEditMs = "engine_prefetched_edit_ms"
        case engineAdoptedEditMs = "engine_adopted_edit_ms", perLayer = "per_layer"
        case frameFullMedianMs = "frame_full_median_ms", frameFullMaxMs = "frame_full_max_ms"
        case frameEditMedianMs = "frame_edit_median_ms"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(samples, forKey: .samples)
        try container.encode(layers, forKey: .layers)
        try container.encode(openMs, forKey: .openMs)
        for (times, median, max) in [(perLayer.map(\.repeatMs), CodingKeys.editRepeatMedianMs, CodingKeys.editRepeatMaxMs),
                                     (perLayer.map(\.firstMs), .editFirstMedianMs, .editFirstMaxMs),
                                     (perLayer.map(\.coldMs), .editColdMedianMs, .editColdMaxMs),
                                     (walkEditMs, .walkEditMedianMs, .walkEditMaxMs),
                                     (frameFullMs, .frameFullMedianMs, .frameFullMaxMs)] {
            try container.encode(Self.median(times), forKey: median)
            try container.encode(times.max() ?? 0, forKey: max)
        }
        try container.encode(walkEditMs, forKey: .walkEditMs)
        try container.encode(engineEditMs, forKey: .engineEditMs)
        try container.encode(enginePrefetchedEditMs, forKey: .enginePrefetchedEditMs)
        try container.encode(engineAdoptedEditMs, forKey: .engineAdoptedEditMs)
        try container.encode(perLayer, forKey: .perLayer)
        try container.encode(Self.median(frameEditMs), forKey: .frameEditMedianMs)
    }

    var lines: [String] {
        var lines = [
            "model     \(model)  (\(layers) layers, \(samples) samples, batch \(batch))",
            "open      FP32 pass + prefix cache fill: \(fixed(openMs, 1)) ms  (accuracy \(fixed(referenceAccuracy * 100, 2)) %)",
        ]
        // "edit      layer 3   cold   12.5 ms  first    8.1 ms  repeat    7.9 ms  (resumed at layer 3, 3)  conv2"
        var edits = ReportTable(columns: [
            .init(), .init(width: .fixed(3), gap: 1),
            .init(gap: 1), .init("", .right, width: .fixed(6), gap: 1),
            .init(gap: 1), .init("", .right, width: .fixed(6), gap: 1),
            .init(gap: 1), .init("", .right, width: .fixed(6), gap: 1), .init(gap: 1),
        ], showsHeader: false)
        for (k, edit) in perLayer.enumerated() {
            edits.append(["edit      layer", String(k), "cold", fixed(edit.coldMs, 1), "ms  first", fixed(edit.firstMs, 1),
                          "ms  repeat", fixed(edit.repeatMs, 1),
                          "ms  (resumed at layer \(edit.firstResumedAtLayer), \(edit.resumedAtLayer))  \(edit.layer)"])
        }
        lines += edits.render()
        func figures(_ label: String, _ times: [Double]) -> String {
            "\(label): median \(fixed(Self.median(times), 1)) ms, max \(fixed(times.max() ?? 0, 1)) ms"
        }
        lines.append("edit      \(figures("cold", perLayer.map(\.coldMs))); \(figures("first", perLayer.map(\.firstMs))); \(figures("repeat", perLayer.map(\.repeatMs)))")
        lines.append("engine    submit -> finished, repeat edit of layer \(engineLayer): \(fixed(engineEditMs, 1)) ms (15 ms debounce included)")
        lines.append("engine    submit -> finished, edit prefetched while idle: \(fixed(enginePrefetchedEditMs, 1)) ms (no debounce: cached)")
        lines.append("engine    submit -> finished, layer 0 edit 50 ms into its prefetch (adopted): \(fixed(engineAdoptedEditMs, 1)) ms")
        lines.append("walk      edit, ↓, edit ... through the engine, keys 250 ms apart: median \(fixed(Self.median(walkEditMs), 1)) ms, max \(fixed(walkEditMs.max() ?? 0, 1)) ms  (per layer: \(walkEditMs.map { fixed($0, 1) }.joined(separator: ", ")))")
        lines.append("frame     120x40 full repaint: median \(fixed(Self.median(frameFullMs), 3)) ms, max \(fixed(frameFullMs.max() ?? 0, 3)) ms; after an edit: median \(fixed(Self.median(frameEditMs), 3)) ms (\(frameFullMs.count) frames)")
        return lines
    }

    /// The middle value of `values` (the upper one of an even count); 0 for none.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        return values.sorted()[values.count / 2]
    }
}
