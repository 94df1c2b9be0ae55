import Executor
/// Loads evaluation data from `.npz`, `.npy` or IDX files (the formats below).
public enum DatasetLoader {
    /// Loads a dataset, recognising the format by content (the extension only words the error):
    ///
    /// - `.npz` (zip from `numpy.savez` / `savez_compressed`): array `x` (samples; first dim = count) and
    ///   optional `y` (labels, shape `[N]` or `[N, 1]`). Only these two keys are read; `X`, `images`,
    ///   `labels` and other names are not guessed, and the error lists the keys present.
    /// - `.npy`: one array, the samples, unlabelled unless `labels` is given.
    /// - IDX images (`*-images-idx3-ubyte`, optionally gzip'ed): uint8 `[N, H, W]` → `sampleShape`
    ///   `[1, H, W]`, pixels mapped by `preprocessing`. Labels come from `labels`, else from the file
    ///   whose name has `labels-idx1` for `images-idx3` (with or without `.gz`) when it exists.
    ///
    /// x of any numeric dtype becomes Float as stored (no implicit /255 except for IDX); labels of any
    /// integer dtype, or floats holding integers, become Int.
    ///
    /// - Parameters:
    ///   - path: the data file, as the user named it (becomes `Dataset.source`).
    ///   - labels: an explicit labels file (IDX labels, gzip'ed or not, or an integer `.npy`); it takes
    ///     precedence over an `.npz`'s `y` and over the IDX file found beside the images.
    ///   - preprocessing: used for IDX data only.
    /// - Throws: `QScopeError` naming the offending file: missing or unreadable file, unrecognised
    ///   format, corrupt content, no `x`, no samples, unsupported dtypes, non-integral labels, or a label
    ///   count that differs from the sample count. Never traps.
    public static func load(path: String, labels: String? = nil, preprocessing: Preprocessing = Preprocessing()) throws -> Dataset {
        let head = try DataFileReader.readPrefix(path, count: 8)
        guard !head.isEmpty else { throw QScopeError(file: path, "the file is empty") }
        var dataset: Dataset
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
            dataset = try loadNPZ(path)
        } else if head.starts(with: NPY.magic) {
            let array = try NPY.read(path: path)
            dataset = try samples(from: [("x", "the array", array)], file: path, labels: nil)
        } else if Gzip.isGzip(head) || IDX.kind(of: head) != nil {
            dataset = try loadIDX(path, explicitLabels: labels, preprocessing: preprocessing)
        } else {
            throw unrecognised(path)
        }
        if let labels {
            let values = try readLabels(labels)
            guard values.count == dataset.count else {
                throw QScopeError(file: labels, "has \(values.count) labels but \(path) has \(dataset.count) samples")
            }
            dataset.labels = values
            dataset.labelSource = labels
        }
        return dataset
    }

    // MARK: - Formats

    /// An archive with `x`: that array (and `y`), the single-input layout. Without `x`: every array
    /// but `y`, named by its key (bound to the model's inputs of the same names by `fitted(to:)`),
    /// all with the same number of samples.
    private static func loadNPZ(_ path: String) throws -> Dataset {
        let (arrays, keys) = try NPZ.read(path: path, keys: nil)
        if let x = arrays["x"] {
            return try samples(from: [("x", "x", x)], file: path, labels: arrays["y"])
        }
        let named = keys.filter { $0 != "y" }.compactMap { key in arrays[key].map { (key, key, $0) } }
        guard !named.isEmpty else {
            let held = keys.isEmpty ? "no arrays" : keys.map { "'\($0)'" }.joined(separator: ", ")
            throw QScopeError(file: path, "no sample arrays in the archive (it holds \(held)); qscope reads 'x' (samples in the model's input layout) or one array per model input, named after it, and optional 'y' (integer labels)")
        }
        return try samples(from: named, file: path, labels: arrays["y"])
    }

    private static func loadIDX(_ path: String, explicitLabels: String?, preprocessing: Preprocessing) throws -> Dataset {
        let bytes = try unzippedIfNeeded(DataFileReader.readAll(path), file: path)
        if IDX.kind(of: bytes) == .labels {
            throw QScopeError(file: path, "is an IDX labels file: give the images file (*-images-idx3-ubyte); its labels are found beside it")
        }
        let images = try IDX.images(bytes, file: path)
        guard images.count > 0 else { throw QScopeError(file: path, "contains no images") }
        guard images.rows > 0, images.columns > 0 else {
            throw QScopeError(file: path, "images are \(images.rows)x\(images.columns), which holds no pixels")
        }
        let table = try preprocessing.lookupTable(file: path)
        let x = images.pixels.withUnsafeBufferPointer { pixels in
            table.withUnsafeBufferPointer { table in
                [Float](unsafeUninitializedCapacity: pixels.count) { out, initialized in
                    for i in 0..<pixels.count { out[i] = table[Int(pixels[i])] }
                    initialized = pixels.count
                }
            }
        }
        var dataset = Dataset(unchecked: path, labelSource: nil,
                              arrays: [SampleArray(name: "x", sampleShape: [1, images.rows, images.columns], floats: x)], labels: nil)
        // An explicit labels file is applied by `load`; only look for the sibling without one.
        if explicitLabels == nil, let sibling = siblingLabelsFile(of: path) {
            let values = try readLabels(sibling)
            guard values.count == images.count else {
                throw QScopeError(file: sibling, "has \(values.count) labels but the images file \(path) has \(images.count) images")
            }
            dataset.labels = values
            dataset.labelSource = sibling
        }
        return dataset
    }

    /// The IDX labels file beside an images file: `images-idx3` (or `images.idx3`) replaced by
    /// `labels-idx1` (`labels.idx1`) in the file name, with the images file's `.gz` or the other choice.
    static func siblingLabelsFile(of path: String) -> String? {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        for (images, labels) in [("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")] where name.contains(images) {
            let base = name.replacingAll(images, with: labels)
            let alternative = base.hasSuffix(".gz") ? String(base.dropLast(3)) : base + ".gz"
            for candidate in [base, alternative] where DataFileReader.isFile(directory + candidate) {
                return directory + candidate
            }
        }
        return nil
    }

    /// Labels from an IDX labels file (gzip'ed or not) or an integer `.npy` of shape `[N]` or `[N, 1]`.
    private static func readLabels(_ path: String) throws -> [Int] {
        let raw = try DataFileReader.readAll(path)
        if raw.starts(with: NPY.magic) {
            let array = try NPY.read(raw, file: path)
            return try labels(from: array, named: "the array", file: path)
        }
        let bytes = try unzippedIfNeeded(raw, file: path)
        guard IDX.kind(of: bytes) != nil else {
            throw QScopeError(file: path, "not a labels file: expected an IDX labels file (*-labels-idx1-ubyte, optionally .gz) or an .npy of integers")
        }
        return try IDX.labels(bytes, file: path)
    }

    // MARK: - Arrays to datasets

    /// A dataset from named arrays whose first dimension counts the samples (the same count in all),
    /// with labels from `labels`: (key, how messages name the array, the array).
    private static func samples(from named: [(key: String, name: String, array: NPYArray)], file: String,
                                labels: NPYArray?) throws -> Dataset {
        var arrays: [SampleArray] = []
        var count: Int?
        for (key, name, array) in named {
            guard let n = array.shape.first else {
                throw QScopeError(file: file, "\(name) is a 0-d scalar; expected an array whose first dimension counts the samples")
            }
            guard n > 0 else {
                throw QScopeError(file: file, "\(name) has no samples (shape \(NPY.describe(array.shape)))")
            }
            if let count, count != n {
                throw QScopeError(file: file, "\(name) has \(n) samples but \(named[0].name) has \(count); every array needs one entry per sample")
            }
            count = n
            let sampleShape = Array(array.shape.dropFirst())
            guard sampleShape.allSatisfy({ $0 > 0 }) else {
                throw QScopeError(file: file, "\(name) has empty samples (shape \(NPY.describe(array.shape)))")
            }
            arrays.append(try sampleArray(key, array, described: name, file: file))
        }
        var values: [Int]?
        if let labels, let count {
            let y = try self.labels(from: labels, named: "y", file: file)
            guard y.count == count else {
                throw QScopeError(file: file, "y has \(y.count) labels but \(named[0].name) has \(count) samples")
            }
            values = y
        }
        return Dataset(unchecked: file, labelSource: nil, arrays: arrays, labels: values)
    }

    /// The largest integer magnitude a `Float` holds exactly (2^24).
    static let exactIntegerLimit = 1 << 24

    /// One array's values as floats, with its element type. Integer arrays (token ids, masks, indices)
    /// must hold values a `Float` represents exactly.
    private static func sampleArray(_ key: String, _ array: NPYArray, described name: String, file: String) throws -> SampleArray {
        let sampleShape = Array(array.shape.dropFirst())
        guard !array.dtype.isFloatingPoint && array.dtype != .bool else {
            return SampleArray(name: key, dataType: array.dtype.dataType, sampleShape: sampleShape, values: array.floats())
        }
        let integers = try array.integers()
        if let index = integers.firstIndex(where: { $0.magnitude > UInt(exactIntegerLimit) }) {
            throw QScopeError(file: file, "\(name) holds \(integers[index]) (element \(index)); qscope computes in float32 and takes integers up to 2^24 in magnitude")
        }
        return SampleArray(name: key, dataType: array.dtype.dataType, sampleShape: sampleShape, values: integers.map(Float.init))
    }

    /// One integer label per sample from an array of shape `[N]` or `[N, 1]`.
    private static func labels(from array: NPYArray, named name: String, file: String) throws -> [Int] {
        guard array.shape.count == 1 || (array.shape.count == 2 && array.shape[1] == 1) else {
            throw QScopeError(file: file, "\(name) has shape \(NPY.describe(array.shape)); labels need one integer per sample, shape [N]")
        }
        do {
            return try array.integers()
        } catch let error as QScopeError {
            throw QScopeError(file: file, "\(name) must hold integer labels: \(error.message)")
        }
    }

    // MARK: - Helpers

    private static func unzippedIfNeeded(_ bytes: [UInt8], file: String) throws -> [UInt8] {
        Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, file: file) : bytes
    }

    private static func unrecognised(_ path: String) -> QScopeError {
        if path.hasSuffix(".npz") {
            return QScopeError(file: path, "not a zip archive, so not an .npz (those are written by numpy.savez or numpy.savez_compressed)")
        }
        if path.hasSuffix(".npy") {
            return QScopeError(file: path, "not a .npy file (it does not start with \\x93NUMPY)")
        }
        return QScopeError(file: path, "unrecognised data format: expected an .npz (arrays x and y), an .npy (x) or an IDX images file (*-images-idx3-ubyte, optionally .gz)")
    }
}

private extension String {
    /// Every occurrence of `target` replaced (Foundation-free, so this file needs no import).
    func replacingAll(_ target: String, with replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
