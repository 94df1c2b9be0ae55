import Analysis
import CursesBackend
import Executor
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Workbench

/// The only place with a terminal, threads and I/O: the UI loop on the main thread.
///
/// Loop: wait in `poll` on stdin and the mailbox's wake pipe (250 ms timeout) → read every pending
/// key without blocking (this also empties ncurses' own key buffer) → take the background work's
/// messages from the mailbox → feed each message to `reduce` → run the effects → paint a frame when
/// something changed. Key handling never waits for the engine or a disk: evaluations run in the
/// engine's tasks, saves, opens and exports on the file queue, and all of them come back as messages
/// through the mailbox (running an effect never calls `reduce` itself).
final class WorkbenchRuntime {
    private var state: AppState
    private let keymap = Keymap.standard
    private let screen: CursesTerminal
    private var terminal: Terminal<CursesTerminal>
    private let mailbox = Mailbox()
    private let engine: Engine
    /// The Compare view's worker (its own task, so a comparison never delays plan evaluations' events).
    private let comparer: LayerCompareEngine
    private let themes: ThemeCatalog
    /// The background Hessian analysis, created on `.startSensitivity` (after the first accuracy).
    private let sensitivity: BackgroundSensitivity
    /// The HAWQ allocation (`a`) and the Trade-off sweep, on the engine's evaluator.
    private let tradeoff: TradeoffEngine
    /// For exports (the model file is re-read there; the data calibrates activation scales).
    private let model: Model
    private let dataset: Dataset
    /// Saves, opens and exports, one at a time in the order asked (a save followed by an open of the
    /// same file reads what was written); `run` waits for it before returning, so a save or export
    /// asked for just before quitting is not lost.
    private let fileQueue = DispatchQueue(label: "qscope.workbench.files")

    /// `hessianSamples`: the samples of the background Hessian analysis (nil: its default, 512).
    init(summary: ModelSummary, plan: Plan?, planPath: String, evaluator: PlanEvaluator, themes: ThemeCatalog,
         themeIndex: Int, model: Model, dataset: Dataset, hessianSamples: Int? = nil) throws {
        self.themes = themes
        let environment = ProcessInfo.processInfo.environment
        do {
            screen = try CursesTerminal(theme: themes.themes[themeIndex], environment: environment)
        } catch let error as CursesError {
            throw QScopeError(error.description)
        }
        terminal = Terminal(backend: screen)
        state = AppState(model: summary, plan: plan, planPath: planPath, size: screen.size, themeNames: themes.names,
                         themeIndex: themeIndex, glyphs: screen.unicode ? .unicode : .ascii)
        let mailbox = self.mailbox
        engine = Engine(evaluator: evaluator) { event in mailbox.post(.engine(event)) }
        comparer = LayerCompareEngine(evaluator: evaluator, batch: evaluator.batchSize) { event in mailbox.post(.compare(event)) }
        // The candidates of `qscope search`'s defaults, so `a` gives the plan `search --method hawq` gives.
        tradeoff = TradeoffEngine(evaluator: evaluator) { event in mailbox.post(.tradeoff(event)) }
        self.model = model
        self.dataset = dataset
        sensitivity = BackgroundSensitivity(model: model, data: dataset,
                                            options: BackgroundSensitivity.workbenchOptions(sampleCount: dataset.count,
                                                                                            samples: hessianSamples)) { event in
            mailbox.post(.sensitivity(event))
        }
    }

    /// Runs until the user quits; restores the terminal before returning.
    func run() {
        defer { screen.close() }
        execute(initialEffects(&state))
        paint()
        var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: mailbox.wakeFD, events: Int16(POLLIN), revents: 0)]
        while !state.quitting {
            _ = poll(&fds, 2, 250)
            var changed = false
            while let event = screen.readEvent(timeoutMilliseconds: 0) {
                switch event {
                case .key(let key): dispatch(.key(key))
                case .mouse(let mouse): dispatch(.mouse(mouse))
                case .resize(let size): dispatch(.resize(size))
                case .ignored: continue
                }
                changed = true
                if state.quitting { break }
            }
            for msg in mailbox.drain() {
                dispatch(msg)
                changed = true
            }
            if changed && !state.quitting { paint() }
            // The analysis pauses between probe batches while an evaluation is queued or running.
            sensitivity.setEvaluationPending(state.engine != .idle)
        }
        sensitivity.cancel()
        fileQueue.sync {}
        let (engine, comparer, tradeoff) = (self.engine, self.comparer, self.tradeoff)
        Task {
            await engine.cancel()
            await comparer.cancel()
            await tradeoff.cancel()
        }
    }

    private func dispatch(_ msg: Msg) {
        execute(reduce(&state, msg, keymap: keymap))
    }

    private func paint() {
        let state = self.state, keymap = self.keymap
        terminal.draw { renderScreen(state, keymap: keymap, into: &$0) }
    }

    private func execute(_ effects: [Effect]) {
        for effect in effects {
            switch effect {
            case .evaluate(let plan, let generation):
                let engine = self.engine
                Task { await engine.submit(plan, generation: generation) }
            case .prefetch(let plans):
                let engine = self.engine
                Task { await engine.prefetch(plans) }
            case .savePlan(let plan, let path):
                let (modelPath, dataPath) = (state.model.path, state.model.dataPath)
                runFileWork { writePlan(plan, modelPath: modelPath, dataPath: dataPath, to: path) }
            case .loadPlan(let path):
                let (layerNames, modelPath) = (state.model.layerNames, state.model.path)
                runFileWork { readPlan(path: path, layerNames: layerNames, modelPath: modelPath) }
            case .startSensitivity:
                sensitivity.start()
            case .applyTheme(let index):
                screen.setTheme(themes.themes[index])
                terminal.invalidate()
            case .redraw:
                screen.updateSize()
                terminal.invalidate()
            case .compareLayer(let layer, let bits, let generation):
                let comparer = self.comparer
                Task { await comparer.start(layer: layer, bits: bits, generation: generation) }
            case .cancelCompare:
                let comparer = self.comparer
                Task { await comparer.cancel() }
            case .allocate(let budget, let traces, let generation):
                let tradeoff = self.tradeoff
                Task { await tradeoff.allocate(budget: budget, tracesPerParameter: traces, generation: generation) }
            case .sweepTradeoff(let traces, let generation):
                let tradeoff = self.tradeoff
                Task { await tradeoff.sweep(tracesPerParameter: traces, generation: generation) }
            case .export(let plan, let format, let path):
                let (model, dataset) = (self.model, self.dataset)
                runFileWork { writeExport(plan, format: format, to: path, model: model, dataset: dataset) }
            case .quit:
                break
            }
        }
    }

    /// Runs one file effect on the file queue and posts its answer to the mailbox, so that the UI
    /// thread never waits for a disk (ONNX exports of the larger models take a moment) and the answer
    /// reaches the reducer as an ordinary message, after the effects of the current one have run.
    private func runFileWork(_ work: @escaping @Sendable () -> Msg) {
        let mailbox = self.mailbox
        fileQueue.async { mailbox.post(work()) }
    }
}

/// `.planSaved`, or `.planSaveFailed` with the one-line error (it names the file).
func writePlan(_ plan: Plan, modelPath: String, dataPath: String?, to path: String) -> Msg {
    do {
        try PlanFile.save(plan, modelPath: modelPath, dataPath: dataPath, to: path)
        return .planSaved(plan, path: path)
    } catch {
        return .planSaveFailed(message: QScopeError.message(for: error))
    }
}

/// `.planLoaded`, or `.planLoadFailed` with the one-line error (it names the file).
func readPlan(path: String, layerNames: [String], modelPath: String) -> Msg {
    do {
        let loaded = try PlanFile.load(path: path, layerNames: layerNames, modelPath: modelPath)
        return .planLoaded(loaded.plan, path: path, warning: loaded.warning)
    } catch {
        return .planLoadFailed(message: QScopeError.message(for: error))
    }
}

/// The export itself: `.exported` or `.exportFailed` with the one-line error; the directory is
/// checked first for a clear message.
func writeExport(_ plan: Plan, format: Exporter.Format, to path: String, model: Model, dataset: Dataset) -> Msg {
    let directory = (path as NSString).deletingLastPathComponent
    var isDirectory: ObjCBool = false
    if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
        return .exportFailed(message: QScopeError(file: path, "cannot write: the directory '\(directory)' does not exist").description)
    }
    // Activation scales are calibrated as `qscope export` does (first 512 samples).
    let calibration = format != .plan && plan.choices.contains { $0.activations != nil } ? dataset.prefix(512) : nil
    do {
        let report = try Exporter.export(model: model, plan: plan, format: format, to: path, calibration: calibration)
        return .exported(ExportOutcome(path: path, format: format, bytes: report.bytes, warnings: report.warnings))
    } catch {
        return .exportFailed(message: QScopeError.message(for: error))
    }
}
