/// Evaluates an operator whose inputs are all constant, producing constant tensors.
///
/// Folding runs the same float kernels as execution: integer inputs are converted to float (exact up
/// to 2^24, which covers the shape arithmetic exporters emit), and integer outputs are rounded back
/// through `DataType.castValue`. Shape parameters are read by the operator builders directly from
/// the exact integer values, so they never pass through float.
enum ConstantFolder {
    static func evaluate(_ op: Operator, inputs: [Tensor?], outputCount: Int) throws -> [Tensor] {
        let inputBuffers: [UnsafeMutablePointer<Float>?] = inputs.map { tensor in
            tensor.map { t in
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(t.count, 1))
                t.values.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: $0.count) }
                return buffer
            }
        }
        let outputBuffers = op.outputTypes.map { UnsafeMutablePointer<Float>.allocate(capacity: max($0.count, 1)) }
        let workspace = UnsafeMutablePointer<Float>.allocate(capacity: max(op.workspaceCount, 1))
        defer {
            for case let buffer? in inputBuffers { buffer.deallocate() }
            for buffer in outputBuffers { buffer.deallocate() }
            workspace.deallocate()
        }
        inputBuffers.withUnsafeBufferPointer { inputTable in
            outputBuffers.withUnsafeBufferPointer { outputTable in
                op.forward(OperatorIO(inputTable: inputTable.baseAddress!, inputCount: inputTable.count, outputTable: outputTable.baseAddress!,
                                      workspace: workspace, threads: 1))
            }
        }
        return zip(op.outputTypes, outputBuffers).prefix(outputCount).map { type, buffer in
            Tensor(shape: type.shape, computed: Array(UnsafeBufferPointer(start: buffer, count: type.count)),
                   dataType: type.dataType)
        }
    }
}
