import Analysis
import Executor

/// Everything that can happen to the workbench: input, resizes, engine events and the results of
/// effects. The reducer is the only place that turns them into state changes.
public enum Msg: Sendable {
    case key(Key)
    case mouse(MouseEvent)
    case resize(Size)
    case engine(EngineEvent)
    /// Progress of the background sensitivity analysis (never touches the plan).
    case sensitivity(SensitivityEvent)
    /// A `.savePlan` effect wrote `plan` (the plan as it was when saved, not necessarily the current one).
    case planSaved(Plan, path: String)
    /// A `.savePlan` effect failed; `message` is the one-line error (it names the file).
    case planSaveFailed(message: String)
    /// A `.loadPlan` effect read a plan.
    /// `warning`: the plan names layers the model lacks, or was saved for another model file.
    case planLoaded(Plan, path: String, warning: String? = nil)
    /// A `.loadPlan` effect failed; `message` is the one-line error (it names the file).
    case planLoadFailed(message: String)
    /// An event of the Compare view's comparison.
    case compare(CompareEvent)
    /// An answer of the allocation or the Trade-off sweep.
    case tradeoff(TradeoffEvent)
    /// An `.export` effect wrote its file.
    case exported(ExportOutcome)
    /// An `.export` effect failed; `message` is the one-line error (it names the file).
    case exportFailed(message: String)
}

/// What an export wrote, for the notice.
public struct ExportOutcome: Hashable, Sendable {
    public var path: String
    public var format: Exporter.Format
    public var bytes: Int
    /// Baked grids, layers a format cannot hold...: one line each.
    public var warnings: [String]

    public init(path: String, format: Exporter.Format, bytes: Int, warnings: [String]) {
        self.path = path
        self.format = format
        self.bytes = bytes
        self.warnings = warnings
    }
}

/// Work the reducer asks the runtime to do; described as data so that reducer tests can check it.
public enum Effect: Hashable, Sendable {
    /// Submit `plan` to the engine as request `generation` (superseding earlier ones).
    case evaluate(Plan, generation: UInt64)
    /// While the engine is idle, evaluate these plans ahead, most likely first (`prefetchEffects`: the
    /// selected layer one step down and up, then its neighbours one step down), so that the next
    /// `-` or `+` is answered from the cache.
    case prefetch([Plan])
    /// Start the background sensitivity analysis (once, after the first accuracy result).
    case startSensitivity
    /// Write `plan` to the plan file `path` (off the UI thread; answered by `.planSaved` or
    /// `.planSaveFailed`).
    case savePlan(Plan, path: String)
    /// Read the plan file `path` (off the UI thread; answered by `.planLoaded` or `.planLoadFailed`).
    case loadPlan(path: String)
    /// Switch the backend to theme `index` of `AppState.themeNames` and repaint everything.
    case applyTheme(index: Int)
    /// Repaint every cell (Ctrl-L).
    case redraw
    case quit
    /// Compare every quantizer family on layer `layer` at `bits` (superseding earlier comparisons).
    case compareLayer(layer: Int, bits: Int, generation: UInt64)
    /// Stop the running comparison (the Compare view closed).
    case cancelCompare
    /// HAWQ-V3 allocation of `budget` from these traces (one per layer), superseding earlier ones.
    case allocate(SizeBudget, tracesPerParameter: [Double], generation: UInt64)
    /// Evaluate the Trade-off pane's plans: the uniform ones, and with traces the capped HAWQ sweep
    /// (superseding the sweep before).
    case sweepTradeoff(tracesPerParameter: [Double]?, generation: UInt64)
    /// Write `plan` as `format` to `path` (off the UI thread; answered by `.exported` or `.exportFailed`).
    case export(Plan, format: Exporter.Format, path: String)
}
