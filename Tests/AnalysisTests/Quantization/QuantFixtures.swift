import Foundation
import TestSupport

/// The committed quantizer references in Tests/Fixtures/quant (made by tools/make_quant_fixtures.py).
/// Floats are stored as float32 bit patterns.
enum QuantFixtures {
    static func path(_ relative: String) -> String { BundledSamples.path(relative) }

    static func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("Tests/Fixtures/quant/\(name)")))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// A float32 array from its bit patterns.
    static func floats(_ any: Any?) -> [Float] {
        (any as! [Any]).map { Float(bitPattern: UInt32(truncating: $0 as! NSNumber)) }
    }

    static func ints(_ any: Any?) -> [Int] { (any as! [Any]).map { Int(truncating: $0 as! NSNumber) } }
    static func doubles(_ any: Any?) -> [Double] { (any as! [Any]).map { Double(truncating: $0 as! NSNumber) } }

    /// Indices where two float arrays differ bitwise (−0 and +0 differ).
    static func mismatches(_ a: [Float], _ b: [Float]) -> [Int] {
        precondition(a.count == b.count)
        return a.indices.filter { a[$0].bitPattern != b[$0].bitPattern && !(a[$0].isNaN && b[$0].isNaN) }
    }
}
