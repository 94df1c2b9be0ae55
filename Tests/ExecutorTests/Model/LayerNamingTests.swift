import Executor
import Testing

/// Layer names: a node name that only counts ops (the loader's own for unnamed nodes, or an
/// exporter's counter) gives way to the weight's name, which says what the layer is.
@Suite("layer naming")
struct LayerNamingTests {
    @Test("generated node names are recognised", arguments: [
        ("Conv_12", "Conv"), ("Conv@0", "Conv"), ("Conv@53", "Conv"), ("p2o.Conv.7", "Conv"), ("MatMul_0", "MatMul"),
        ("", "Gemm"),
    ])
    func generated(name: String, opType: String) {
        #expect(Model.isGeneratedName(name, opType: opType))
    }

    @Test("names with their own text are kept", arguments: [
        ("/features/conv1/Conv", "Conv"), ("Conv@0", "MatMul"), ("Conv@", "Conv"), ("Conv@x1", "Conv"),
        ("p2o.Conv.", "Conv"), ("StatefulPartitionedCall/model/conv2d/Conv2D", "Conv"), ("Conv_12_fused", "Conv"),
        ("conv_12", "Conv"),
    ])
    func kept(name: String, opType: String) {
        #expect(!Model.isGeneratedName(name, opType: opType))
    }
}
