import Executor
/// Checks of a dataset against the model it is about to be fed to.
extension Dataset {
    /// The dataset bound to `model`'s inputs: one array per input, in the model's input order.
    ///
    /// - A model with one input takes the dataset's array named after it, else its only array
    ///   (whatever its key, e.g. `x`), reshaped if needed by `fitted(toInput:dims:)`.
    /// - A model with several inputs takes, for each input, the array of the same name. Its element
    ///   kind must feed the input's type (integers and bools for integer inputs, floats for float
    ///   inputs) and its rank must be the input's; fixed dims must match, and a symbolic dim (`T`)
    ///   takes one value across all inputs. Arrays no input names are left out.
    /// - Throws: `QScopeError(file: source, ...)`, one line that lists the model's inputs next to the
    ///   arrays present when an array is missing, of the wrong kind or rank, or of the wrong shape.
    public func fitted(to model: Model) throws -> Dataset {
        let inputs = model.graph.inputs
        guard !inputs.isEmpty else { throw QScopeError(file: model.path, "the model has no inputs") }
        if inputs.count == 1 {
            let input = inputs[0]
            let index = arrays.firstIndex { $0.name == input.name } ?? (arrays.count == 1 ? 0 : nil)
            guard let index else { throw mismatch(model, "no array is named '\(input.name)'") }
            guard !arrays[index].dataType.isFloat || input.dataType.isFloat else {
                throw mismatch(model, "'\(arrays[index].name)' holds \(arrays[index].dataType) values, the input '\(input.name)' takes \(input.dataType)")
            }
            var single = self
            single.arrays = [arrays[index]]
            let fitted = try single.fitted(toInput: input.name, dims: input.dims)
            try fitted.validateTableIndices(model)
            return fitted
        }
        var bound: [SampleArray] = []
        var symbols: [String: (value: Int, input: String)] = [:]
        for input in inputs {
            guard let array = arrays.first(where: { $0.name == input.name }) else {
                throw mismatch(model, "no array for the input '\(input.name)'")
            }
            guard array.feeds(input.dataType) else {
                throw mismatch(model, "'\(array.name)' holds \(array.dataType) values, the input takes \(input.dataType)")
            }
            guard array.sampleShape.count + 1 == input.dims.count else {
                throw mismatch(model, "'\(array.name)' has rank \(array.sampleShape.count + 1), the input has rank \(input.dims.count)")
            }
            for (d, size) in array.sampleShape.enumerated() {
                let dim = d + 1
                if let fixed = input.dims[dim], fixed >= 0 {
                    guard fixed == size else {
                        throw mismatch(model, "'\(array.name)' has \(size) along dim \(dim), the input needs \(fixed)")
                    }
                } else if let symbol = input.dimNames[dim] {
                    if let earlier = symbols[symbol], earlier.value != size {
                        throw mismatch(model, "'\(array.name)' has \(symbol) = \(size) along dim \(dim), '\(earlier.input)' has \(symbol) = \(earlier.value)")
                    }
                    symbols[symbol] = (size, input.name)
                }
            }
            bound.append(array)
        }
        var copy = self
        copy.arrays = bound
        try copy.validateTableIndices(model)
        return copy
    }

    /// Checks the arrays that index a constant table (token ids into a word embedding: an input that
    /// is, directly or through a Cast, the indices of a `Gather` on axis 0 of a constant), so that a
    /// token id at or beyond the vocabulary is reported by sample and position before any pass.
    /// - Throws: `QScopeError(file: source, "input_ids holds 30522 at sample 3, position 7; ...")`.
    func validateTableIndices(_ model: Model) throws {
        let graph = model.graph
        for (array, inputID) in zip(arrays, graph.inputIDs) {
            var readers = Set([inputID])
            for node in graph.nodes where node.opType == "Cast" && node.inputs.first == inputID { readers.formUnion(node.outputs) }
            for node in graph.nodes where node.opType == "Gather" && node.inputs.count >= 2 {
                guard let indices = node.inputs[1], readers.contains(indices), let tableID = node.inputs[0],
                      let table = graph.constants[tableID], let rows = table.shape.first else { continue }
                var axis = 0
                if case .int(let a)? = node.attributes["axis"] { axis = a }
                guard axis == 0 || axis == -table.shape.count else { continue }
                // Gather takes -rows..<rows (negative counts from the end).
                if let bad = array.values.firstIndex(where: { $0 < Float(-rows) || $0 >= Float(rows) }) {
                    let size = max(array.sampleSize, 1)
                    throw QScopeError(file: source, "\(array.name) holds \(Int(array.values[bad])) at sample \(bad / size), position \(bad % size); "
                                      + "\(node.label) indexes '\(graph.valueNames[tableID])', which has \(rows) rows")
                }
            }
        }
    }

    /// `'file': <problem>; the model's inputs: input_ids int64 [N, T], ...; the data holds: ...`.
    private func mismatch(_ model: Model, _ problem: String) -> QScopeError {
        let inputs = model.graph.inputs.map { "\($0.name) \($0.dataType) \($0.shapeText)" }.joined(separator: ", ")
        let held = arrays.map(\.summary).joined(separator: ", ")
        return QScopeError(file: source, "\(problem); the model's inputs: \(inputs); the data holds: \(held)")
    }

    /// The dataset reshaped, if needed, to fit a model input.
    ///
    /// - Parameters:
    ///   - name: the model input's name, for the message.
    ///   - dims: the input's dimensions, FIRST = batch (ignored); `nil` (or a negative value) is a
    ///     symbolic/unknown dimension that matches anything, e.g. `[nil, 1, 28, 28]`.
    /// - Returns: `self` when `sampleShape` already matches `dims.dropFirst()`; otherwise, when every
    ///   non-batch dim is known and their product equals `sampleSize`, a copy with `sampleShape` set to
    ///   them (row-major data needs no reordering: x `[N, 784]` fits `[N, 1, 28, 28]`).
    /// - Throws: `QScopeError(file: source, "samples have shape [784] but the model input 'input' expects
    ///   [N, 1, 28, 28]")` in any other case (unknown dims shown as `?`), or when `dims` is empty.
    public func fitted(toInput name: String, dims: [Int?]) throws -> Dataset {
        let sampleShape = self.sampleShape, sampleSize = arrays[0].sampleSize
        let known = dims.map { $0.flatMap { $0 >= 0 ? $0 : nil } }
        guard let batch = known.first else {
            throw QScopeError(file: source, "the model input '\(name)' is a scalar and cannot take a batch of samples")
        }
        let wanted = Array(known.dropFirst())
        if wanted.count == sampleShape.count && zip(wanted, sampleShape).allSatisfy({ $0 == nil || $0 == $1 }) {
            return self
        }
        let concrete = wanted.compactMap { $0 }
        if concrete.count == wanted.count && concrete.allSatisfy({ $0 > 0 }) {
            let (product, overflow) = concrete.reduce((1, false)) { partial, dim in
                let (next, over) = partial.0.multipliedReportingOverflow(by: dim)
                return (next, partial.1 || over)
            }
            if !overflow && product == sampleSize {
                var copy = self
                copy.arrays[0].sampleShape = concrete
                return copy
            }
        }
        let expected = [batch.map(String.init) ?? "N"] + wanted.map { $0.map(String.init) ?? "?" }
        throw QScopeError(file: source, "samples have shape \(NPY.describe(sampleShape)) but the model input '\(name)' expects [\(expected.joined(separator: ", "))]")
    }

    /// Checks that every label is a class index of a model with `classes` outputs; passes when there
    /// are no labels.
    /// - Throws: `QScopeError` naming `labelSource ?? source`, for the first bad label, with 0-based sample
    ///   indices: `"label 12 of sample 37 is outside 0..<10"`; also when `classes < 1`.
    public func validateLabels(classes: Int) throws {
        guard let labels else { return }
        let file = labelSource ?? source
        guard classes >= 1 else {
            throw QScopeError(file: file, "cannot check labels against a model with \(classes) classes")
        }
        if let index = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw QScopeError(file: file, "label \(labels[index]) of sample \(index) is outside 0..<\(classes)")
        }
    }
}
