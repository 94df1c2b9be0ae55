/// The JSON schemas of AIMET encodings files, field for field: what `AIMETEncodings.export` writes
/// (see there for the offset convention and what is left out). Property names are Swift's; the
/// coding keys are AIMET's snake_case field names.
enum AIMETEncodingsFile {
    /// Version 1.0.0: encodings as lists, each entry naming its tensor.
    struct V1_0_0: Encodable {
        var version = AIMETEncodings.Version.v1_0_0.rawValue
        var paramEncodings: [Entry]
        var activationEncodings: [Entry]
        var quantizerArgs: QuantizerArguments
        /// Layers AIMET should not quantize; qscope leaves unquantized layers out of the lists instead.
        var excludedLayers: [String] = []

        /// One tensor's encoding: one scale and offset per channel (`PER_CHANNEL`) or one for the tensor.
        struct Entry: Encodable {
            var name: String
            var dtype = "INT"
            var encodingType: String
            /// The plan's bit-width B (not the ONNX container's).
            var bitWidth: Int
            var isSymmetric: Bool
            var scale: [Double]
            var offset: [Int]

            enum CodingKeys: String, CodingKey {
                case name, dtype, scale, offset
                case encodingType = "enc_type", bitWidth = "bw", isSymmetric = "is_sym"
            }

            init(_ encoding: AIMETEncodings.Encoding) {
                name = encoding.name
                encodingType = encoding.perChannel ? "PER_CHANNEL" : "PER_TENSOR"
                bitWidth = encoding.bits
                isSymmetric = encoding.symmetric
                scale = encoding.scales.map { Double($0) }
                offset = encoding.offsets
            }
        }

        enum CodingKeys: String, CodingKey {
            case version
            case paramEncodings = "param_encodings", activationEncodings = "activation_encodings"
            case quantizerArgs = "quantizer_args", excludedLayers = "excluded_layers"
        }

        init(params: [AIMETEncodings.Encoding], activations: [AIMETEncodings.Encoding]) {
            paramEncodings = params.map(Entry.init)
            activationEncodings = activations.map(Entry.init)
            quantizerArgs = QuantizerArguments(params: params, activations: activations)
        }
    }

    /// Version 0.6.1: objects keyed by tensor name, each a list with one entry per channel (one for a
    /// per-tensor encoding).
    struct V0_6_1: Encodable {
        var version = AIMETEncodings.Version.v0_6_1.rawValue
        var paramEncodings: [String: [Entry]]
        var activationEncodings: [String: [Entry]]
        var quantizerArgs: QuantizerArguments

        /// One channel's grid. `min = scale·offset`, `max = scale·(2^B − 1 + offset)`, computed in Double.
        struct Entry: Encodable {
            var bitWidth: Int
            var dtype = "int"
            /// `"True"` or `"False"`: a string in this version, as AIMET writes it.
            var isSymmetric: String
            var min: Double
            var max: Double
            var scale: Double
            var offset: Int

            enum CodingKeys: String, CodingKey {
                case dtype, min, max, scale, offset
                case bitWidth = "bitwidth", isSymmetric = "is_symmetric"
            }

            init(bits: Int, symmetric: Bool, scale: Float, offset: Int) {
                let scale = Double(scale)
                bitWidth = bits
                isSymmetric = symmetric ? "True" : "False"
                self.scale = scale
                min = scale * Double(offset)
                max = scale * Double((1 << bits) - 1 + offset)
                self.offset = offset
            }
        }

        enum CodingKeys: String, CodingKey {
            case version
            case paramEncodings = "param_encodings", activationEncodings = "activation_encodings"
            case quantizerArgs = "quantizer_args"
        }

        /// A tensor listed twice keeps its first encoding.
        init(params: [AIMETEncodings.Encoding], activations: [AIMETEncodings.Encoding]) {
            func byName(_ encodings: [AIMETEncodings.Encoding]) -> [String: [Entry]] {
                Dictionary(encodings.map { encoding in
                    (encoding.name, zip(encoding.scales, encoding.offsets).map { scale, offset in
                        Entry(bits: encoding.bits, symmetric: encoding.symmetric, scale: scale, offset: offset)
                    })
                }, uniquingKeysWith: { first, _ in first })
            }
            paramEncodings = byName(params)
            activationEncodings = byName(activations)
            quantizerArgs = QuantizerArguments(params: params, activations: activations)
        }
    }

    /// `quantizer_args`, the same in both versions: the simulation defaults AIMET would have used.
    /// A mixed plan has several bit-widths; these are the most common ones (ties go to the wider),
    /// 32 when there is none, and the per-tensor encodings above are exact regardless.
    struct QuantizerArguments: Encodable {
        var activationBitWidth: Int
        var paramBitWidth: Int
        var dtype = "int"
        /// True when every weight encoding is symmetric (also when there are none).
        var isSymmetric: Bool
        var perChannelQuantization: Bool
        var quantScheme = "post_training_tf"

        enum CodingKeys: String, CodingKey {
            case dtype
            case activationBitWidth = "activation_bitwidth", paramBitWidth = "param_bitwidth"
            case isSymmetric = "is_symmetric", perChannelQuantization = "per_channel_quantization"
            case quantScheme = "quant_scheme"
        }

        init(params: [AIMETEncodings.Encoding], activations: [AIMETEncodings.Encoding]) {
            func mostCommonBits(_ encodings: [AIMETEncodings.Encoding]) -> Int {
                let counts = Dictionary(grouping: encodings, by: \.bits).mapValues(\.count)
                return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key < $1.key) }?.key ?? 32
            }
            activationBitWidth = mostCommonBits(activations)
            paramBitWidth = mostCommonBits(params)
            isSymmetric = params.allSatisfy(\.symmetric)
            perChannelQuantization = params.contains(where: \.perChannel)
        }
    }
}
