/// Where each panel goes for a terminal size: a pure function of the size and layer count, shared
/// by the views (to paint) and the reducer (paging, mouse hit-testing).
///
///     row 0          title bar
///     rows 1...      Layers panel (table)      — up to 60 % of the body, or just enough rows
///                    Detail panel              — the rest (weight histogram of the selection)
///     row h-2        status line               — engine, accuracy ± CI, Δ vs FP32, size, bits
///     row h-1        hints, prompt or notice
///
/// Later panels (Trade-off, Compare) take a share of the body the same way.
public struct ScreenLayout: Equatable, Sendable {
    /// Below this the screen shows only a notice.
    public static let minimum = Size(width: 60, height: 16)

    public var size: Size
    public var title: Rect
    public var layers: Rect
    public var detail: Rect
    public var status: Rect
    public var bottom: Rect

    public var isTooSmall: Bool { size.width < Self.minimum.width || size.height < Self.minimum.height }

    /// - Parameter tallDetail: the Detail area holds the Trade-off plot: the Layers table takes at
    ///   most 2/5 of the body instead of 3/5.
    public init(size: Size, layerCount: Int = 0, tallDetail: Bool = false) {
        self.size = size
        let all = Rect(size: size)
        let (title, rest) = all.splitTop(1)
        let (body, footer) = rest.splitBottom(2)
        let (status, bottom) = footer.splitTop(1)
        let share = tallDetail ? body.height * 2 / 5 : body.height * 3 / 5
        let wanted = layerCount > 0 ? layerCount + 3 : share
        let layersHeight = max(6, min(wanted, share))
        let (layers, detail) = body.splitTop(layersHeight)
        self.title = title
        self.layers = layers
        self.detail = detail
        self.status = status
        self.bottom = bottom
    }

    /// The table's data rows (inside the border, below the header).
    public var layerRows: Rect { Rect(x: layers.x + 1, y: layers.y + 2, width: layers.width - 2, height: layers.height - 3) }

    /// How many layer rows fit.
    public var visibleLayerRows: Int { layerRows.height }
}

extension AppState {
    /// The layout of this state's screen.
    public var layout: ScreenLayout { ScreenLayout(size: size, layerCount: model.layers.count, tallDetail: tradeoff.isVisible) }
}
