import Analysis
import Executor

/// The whole state of the workbench screen: a value; only `reduce` changes it.
public struct AppState: Equatable, Sendable {
    public var model: ModelSummary
    /// The plan being edited.
    public var plan: Plan
    /// The plan as last saved or loaded (or as opened); `plan != savedPlan` means unsaved changes.
    public var savedPlan: Plan
    /// Earlier plans, most recent last (undo), and undone plans (redo).
    public var undoStack: [Plan] = []
    public var redoStack: [Plan] = []
    /// Selected layer index.
    public var selection = 0
    /// First layer row shown in the Layers table.
    public var scroll = 0
    public var size: Size
    /// The generation of the last evaluation requested; engine events of older generations are stale.
    public var requestedGeneration: UInt64 = 0
    public var engine: EngineStatus = .idle
    /// The newest finished evaluation (possibly of an older plan while a newer one is computing).
    public var evaluation: PlanEvaluation?
    /// The last evaluation failure for the current plan, if any.
    public var engineError: String?
    public var overlay: Overlay?
    public var notice: Notice?
    /// Where `s` proposes to save (the last saved/loaded path, else `<model>.qscope.json`).
    public var planPath: String
    public var themeNames: [String]
    public var themeIndex = 0
    public var glyphs: GlyphSet = .unicode
    /// The background Hessian analysis and the Layers table's row order (LayerSort.swift).
    public var sensitivity = SensitivityState()
    public var layerSort: LayerSort = .model
    /// Set when the user confirmed quitting; the runtime stops after this frame.
    public var quitting = false
    /// The Compare view when open (it replaces the Detail panel), and its last request number.
    public var compare: CompareState?
    public var compareGeneration: UInt64 = 0
    /// The automatic allocation (`a`) and the Trade-off pane (`T`).
    public var tradeoff = TradeoffState()
    /// First line of the `?` overlay shown when it scrolls (small terminals).
    public var helpScroll = 0

    public init(model: ModelSummary, plan: Plan? = nil, planPath: String? = nil, size: Size = Size(width: 120, height: 40),
                themeNames: [String] = ["dark"], themeIndex: Int = 0, glyphs: GlyphSet = .unicode) {
        self.model = model
        let initial = plan ?? Plan(layerNames: model.layerNames)
        self.plan = initial
        self.savedPlan = initial
        self.planPath = planPath ?? PlanFile.defaultPath(forModel: model.path)
        self.size = size
        self.themeNames = themeNames.isEmpty ? ["dark"] : themeNames
        self.themeIndex = min(max(0, themeIndex), self.themeNames.count - 1)
        self.glyphs = glyphs
    }

    public var hasUnsavedChanges: Bool { plan != savedPlan }

    /// The evaluation's numbers for layer `i` when they belong to the current plan's choice.
    public func layerResult(_ i: Int) -> LayerQuantization? {
        guard let evaluation, i < evaluation.layers.count, evaluation.plan.choices[i] == plan.choices[i] else { return nil }
        return evaluation.layers[i]
    }

    /// True when the shown accuracy is for the plan on screen.
    public var evaluationIsCurrent: Bool { evaluation?.plan == plan }

    /// The keymap contexts that receive keys now, in the order they are asked: an open overlay
    /// alone, else the Compare view (while open) before the Layers table, allocation and global keys.
    public var keyContexts: [KeyContext] {
        switch overlay {
        case .help?: return [.help]
        case .prompt?: return [.prompt]
        case .confirmQuit?: return [.confirmQuit]
        case .export?: return [.exportDialog]
        case nil: return (compare != nil ? [.compare] : []) + [.layers, .tradeoff, .global]
        }
    }
}
