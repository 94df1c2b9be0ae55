import Executor
import Kernels

/// A weight quantizer chosen by a spec string `FAMILY[:option...]` (the quantization methods page in docs/ has a section per family).
///
/// The CLI, plan files and the screen share this grammar:
/// - `intB` (B = 2...16): symmetric per output channel (`sym-absmax`). Options: `asym` (min/max
///   affine, integer zero point) or `hawq` (`sym-hawq` clamp); `tensor` or `group=G`; `clip=mse` or
///   `clip=pNN.N` (percentile of |w|).
/// - `fp8:e4m3`, `fp8:e5m2`, `fp6:e3m2`, `fp6:e2m3`, `fp4:e2m1` (the format may be omitted: fp8 →
///   e4m3, fp6 → e3m2, fp4 → e2m1): per output channel, scale = max|w| / format max. Options `tensor`
///   or `block=N` (MX-style shared E8M0 scale per N values, OCP MX uses 32); `clip=mse`.
/// - `powB[:a=A]` (B = 2...8, 0 < A ≤ 1): NUPES/PowerQuant power-exponent grid, A searched per layer
///   when absent. Option `tensor`.
/// - `potB` (B = 2...6): DenseShift zero-free ±α·2^k, per-channel α searched for PTQ.
/// - `lutB[:sparse=F]` (B = 2...8, 0 ≤ F < 100 percent): SqueezeLLM per-channel k-means codebook,
///   the F % largest-magnitude weights kept in FP16.
/// - `split3:SPEC`: SplitQuant 3-way split of the weights, each part quantized with SPEC.
/// - `stored:TYPE[:tensor]` (TYPE = int8, uint8, int4, uint4, int16, uint16): the weight as an
///   already-quantized model file stores it (`StoredQuantization`), kept as it is; per output channel
///   unless `tensor`. Valid only for layers the file stores quantized in that format; tables show
///   it as "int8 (stored)".
///
/// `description` prints the canonical form (options in the order above, defaults omitted), which
/// parses back to an equal value.
public struct QuantizerSpec: Hashable, Sendable, CustomStringConvertible {
    /// Where one scale applies.
    public enum Granularity: Hashable, Sendable {
        /// One scale per output channel (the default).
        case channel
        /// One scale for the whole tensor.
        case tensor
        /// One scale per `G` consecutive weights of an output channel (`group=G` for integers,
        /// `block=G` for FP formats, where the scale is a shared power of two).
        case group(Int)
    }

    public enum Family: Hashable, Sendable {
        case integer(bits: Int, mapping: IntegerQuantizer.Mapping, granularity: Granularity, clipping: ClippingRule)
        case float(FloatFormat, granularity: Granularity, clipping: ClippingRule)
        /// Power-exponent quantizer; `exponent` nil = searched per layer.
        case power(bits: Int, exponent: Double?, granularity: Granularity)
        case powerOfTwo(bits: Int, granularity: Granularity)
        /// `sparsePercent` of the weights (largest |w|) kept as FP16 outliers.
        case lookupTable(bits: Int, sparsePercent: Double)
        indirect case split(QuantizerSpec)
        /// The stored codes of an already-quantized model, unchanged: `bits` wide, `signed`, one
        /// scale per output channel or (`perTensor`) one for the tensor.
        case stored(bits: Int, signed: Bool, perTensor: Bool)
    }

    public var family: Family

    public init(_ family: Family) { self.family = family }

    /// `intB`: symmetric per output channel.
    public static func int(_ bits: Int) -> QuantizerSpec {
        QuantizerSpec(.integer(bits: bits, mapping: .symmetric, granularity: .channel, clipping: .none))
    }

    /// The nominal code bit-width B.
    public var bits: Int {
        switch family {
        case .integer(let bits, _, _, _), .power(let bits, _, _), .powerOfTwo(let bits, _), .lookupTable(let bits, _):
            return bits
        case .float(let format, _, _): return format.bits
        case .split(let inner): return inner.bits
        case .stored(let bits, _, _): return bits
        }
    }

    /// The spec that keeps a layer's stored weight as it is.
    public static func stored(_ stored: StoredQuantization) -> QuantizerSpec {
        QuantizerSpec(.stored(bits: stored.bits, signed: stored.isSigned, perTensor: !stored.isPerChannel))
    }

    /// Whether this spec keeps the stored weight (`stored:TYPE`).
    public var isStored: Bool {
        if case .stored = family { return true }
        return false
    }

    /// Whether this is the stored spec of a layer stored as `stored` (same type and granularity).
    public func matches(_ stored: StoredQuantization) -> Bool { self == .stored(stored) }

    /// The code type a `stored` spec names ("int8", "uint8"...).
    static func storedTypeName(bits: Int, signed: Bool) -> String { "\(signed ? "" : "u")int\(bits)" }

    /// The canonical spec string.
    public var description: String {
        func granularityText(_ g: Granularity, groupWord: String) -> [String] {
            switch g {
            case .channel: return []
            case .tensor: return ["tensor"]
            case .group(let size): return ["\(groupWord)=\(size)"]
            }
        }
        func clipText(_ c: ClippingRule) -> [String] {
            switch c {
            case .none: return []
            case .mse: return ["clip=mse"]
            case .percentile(let p): return ["clip=p\(p)"]
            }
        }
        var parts: [String]
        switch family {
        case .integer(let bits, let mapping, let granularity, let clipping):
            parts = ["int\(bits)"]
            if mapping == .affine { parts.append("asym") }
            if mapping == .hawq { parts.append("hawq") }
            parts += granularityText(granularity, groupWord: "group") + clipText(clipping)
        case .float(let format, let granularity, let clipping):
            parts = ["fp\(format.bits)", format.description]
            parts += granularityText(granularity, groupWord: "block") + clipText(clipping)
        case .power(let bits, let exponent, let granularity):
            parts = ["pow\(bits)"] + (exponent.map { ["a=\($0)"] } ?? []) + granularityText(granularity, groupWord: "group")
        case .powerOfTwo(let bits, let granularity):
            parts = ["pot\(bits)"] + granularityText(granularity, groupWord: "group")
        case .lookupTable(let bits, let sparse):
            parts = ["lut\(bits)"] + (sparse > 0 ? ["sparse=\(sparse)"] : [])
        case .split(let inner):
            parts = ["split3", inner.description]
        case .stored(let bits, let signed, let perTensor):
            parts = ["stored", Self.storedTypeName(bits: bits, signed: signed)] + (perTensor ? ["tensor"] : [])
        }
        return parts.joined(separator: ":")
    }

    /// What `init(parsing:)` accepts, for error messages.
    public static let grammarSummary =
        "valid: intB (B=2..16)[:asym|:hawq][:tensor|:group=G][:clip=mse|:clip=pNN.N], "
        + "fp8:e4m3, fp8:e5m2, fp6:e3m2, fp6:e2m3, fp4:e2m1 [:tensor|:block=N][:clip=mse], "
        + "powB[:a=A] (B=2..8, 0<A<=1), potB (B=2..6), lutB[:sparse=F] (B=2..8, F percent in [0,100)), split3:SPEC, "
        + "stored:TYPE[:tensor] (TYPE=int8, uint8, int4, uint4, int16, uint16; layers stored quantized)"

    /// Parses a spec string; throws a one-line `QScopeError` naming the problem and the valid forms.
    public init(parsing text: String) throws {
        func fail(_ reason: String) -> QScopeError {
            QScopeError("bad quantizer spec '\(text)': \(reason); \(QuantizerSpec.grammarSummary)")
        }
        let tokens = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard let head = tokens.first?.lowercased(), !head.isEmpty else { throw fail("empty spec") }
        var options = Array(tokens.dropFirst())

        if head == "split3" {
            guard !options.isEmpty else { throw fail("split3 needs the spec of its parts, e.g. split3:int4") }
            let inner = try QuantizerSpec(parsing: options.joined(separator: ":"))
            if case .split = inner.family { throw fail("split3 cannot be nested") }
            self.init(.split(inner))
            return
        }

        if head == "stored" {
            let typeName = options.first?.lowercased() ?? ""
            let formats = [4, 8, 16].flatMap { bits in [true, false].map { signed in (bits: bits, signed: signed) } }
            guard let format = formats.first(where: { Self.storedTypeName(bits: $0.bits, signed: $0.signed) == typeName }) else {
                throw fail("stored needs the code type: stored:int8, stored:uint8, stored:int4, stored:uint4, stored:int16 or stored:uint16")
            }
            let rest = options.dropFirst().map { $0.lowercased() }
            guard rest.isEmpty || rest == ["tensor"] else { throw fail("stored takes only the option tensor") }
            self.init(.stored(bits: format.bits, signed: format.signed, perTensor: rest == ["tensor"]))
            return
        }

        func bitWidth(prefix: String, range: ClosedRange<Int>) throws -> Int {
            guard let bits = Int(head.dropFirst(prefix.count)) else { throw fail("'\(head)' has no bit-width") }
            guard range.contains(bits) else {
                throw fail("\(prefix) bit-width must be \(range.lowerBound)..\(range.upperBound), got \(bits)")
            }
            return bits
        }
        // Options are `word` or `key=value`; each may appear once.
        var seen = Set<String>()
        func take(_ option: String) throws -> (key: String, value: String?) {
            let pair = option.split(separator: "=", maxSplits: 1).map { String($0).lowercased() }
            guard let key = pair.first, !key.isEmpty else { throw fail("empty option") }
            guard seen.insert(key).inserted else { throw fail("option '\(key)' given twice") }
            return (key, pair.count > 1 ? pair[1] : nil)
        }
        func positiveInt(_ value: String?, _ key: String) throws -> Int {
            guard let value, let n = Int(value), n > 0 else { throw fail("\(key) must be a positive integer") }
            return n
        }
        func clipping(_ value: String?) throws -> ClippingRule {
            guard let value else { throw fail("clip needs a value: clip=mse or clip=pNN.N") }
            if value == "mse" { return .mse }
            if value.hasPrefix("p"), let p = Double(value.dropFirst()), p > 0, p <= 100 { return .percentile(p) }
            throw fail("clip must be mse or a percentile p0.1..p100, got '\(value)'")
        }
        func granularity(_ current: inout Granularity, _ new: Granularity) throws {
            guard current == .channel else { throw fail("give at most one of tensor, group=G, block=N") }
            current = new
        }

        if head.hasPrefix("int") {
            let bits = try bitWidth(prefix: "int", range: 2...16)
            var mapping = IntegerQuantizer.Mapping.symmetric
            var grain = Granularity.channel
            var clip = ClippingRule.none
            for option in options {
                let (key, value) = try take(option)
                switch key {
                case "asym", "hawq":
                    guard mapping == .symmetric else { throw fail("asym and hawq exclude each other") }
                    mapping = key == "asym" ? .affine : .hawq
                case "tensor": try granularity(&grain, .tensor)
                case "group": try granularity(&grain, .group(try positiveInt(value, "group")))
                case "clip": clip = try clipping(value)
                default: throw fail("unknown option '\(option)' for int")
                }
            }
            self.init(.integer(bits: bits, mapping: mapping, granularity: grain, clipping: clip))
        } else if head.hasPrefix("fp") {
            guard let width = Int(head.dropFirst(2)), [4, 6, 8].contains(width) else {
                throw fail("FP widths are fp4, fp6, fp8")
            }
            var format = width == 8 ? FloatFormat.e4m3 : width == 6 ? .e3m2 : .e2m1
            if let first = options.first?.lowercased(), first.hasPrefix("e"), !first.contains("=") {
                guard let named = FloatFormat.all.first(where: { $0.description == first && $0.bits == width }) else {
                    throw fail("fp\(width) has no format '\(first)'")
                }
                format = named
                options.removeFirst()
            }
            var grain = Granularity.channel
            var clip = ClippingRule.none
            for option in options {
                let (key, value) = try take(option)
                switch key {
                case "tensor": try granularity(&grain, .tensor)
                case "block": try granularity(&grain, .group(try positiveInt(value, "block")))
                case "clip":
                    clip = try clipping(value)
                    guard clip == .mse else { throw fail("FP formats take clip=mse only") }
                default: throw fail("unknown option '\(option)' for fp")
                }
            }
            self.init(.float(format, granularity: grain, clipping: clip))
        } else if head.hasPrefix("pow") {
            let bits = try bitWidth(prefix: "pow", range: 2...8)
            var exponent: Double?
            var grain = Granularity.channel
            for option in options {
                let (key, value) = try take(option)
                switch key {
                case "a":
                    guard let value, let a = Double(value), a > 0, a <= 1 else { throw fail("a must be in (0, 1]") }
                    exponent = a
                case "tensor": try granularity(&grain, .tensor)
                default: throw fail("unknown option '\(option)' for pow")
                }
            }
            self.init(.power(bits: bits, exponent: exponent, granularity: grain))
        } else if head.hasPrefix("pot") {
            let bits = try bitWidth(prefix: "pot", range: 2...6)
            var grain = Granularity.channel
            for option in options {
                let (key, _) = try take(option)
                guard key == "tensor" else { throw fail("unknown option '\(option)' for pot") }
                try granularity(&grain, .tensor)
            }
            self.init(.powerOfTwo(bits: bits, granularity: grain))
        } else if head.hasPrefix("lut") {
            let bits = try bitWidth(prefix: "lut", range: 2...8)
            var sparse = 0.0
            for option in options {
                let (key, value) = try take(option)
                guard key == "sparse" else { throw fail("unknown option '\(option)' for lut") }
                guard let value, let f = Double(value), f >= 0, f < 100 else {
                    throw fail("sparse must be a percentage in [0, 100)")
                }
                sparse = f
            }
            self.init(.lookupTable(bits: bits, sparsePercent: sparse))
        } else {
            throw fail("unknown family '\(head)'")
        }
    }
}
