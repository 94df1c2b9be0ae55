import Analysis
import Executor
import Foundation

/// Number formats shared by the views (C-locale digits, fixed decimals so that columns line up).
enum Format {
    /// "92.85%"
    static func percent(_ fraction: Double, _ decimals: Int = 2) -> String { Text.fixed(fraction * 100, decimals) + "%" }

    /// Signed percentage points: "+0.15 pp", "−1.20 pp" (U+2212 minus reads better than a hyphen).
    static func points(_ delta: Double) -> String {
        let text = Text.fixed(abs(delta) * 100, 2)
        if text == "0.00" { return "±0.00 pp" }
        return (delta < 0 ? "−" : "+") + text + " pp"
    }

    /// SQNR in dB: "19.3", "∞" for exact/float.
    static func decibels(_ db: Double) -> String {
        if db == .infinity { return "∞" }
        if db == -.infinity { return "-∞" }
        return Text.fixed(db, 1)
    }

    /// Bits as KiB with 2 decimals.
    static func kibibytes(bits: Int) -> String { Text.fixed(Double(bits) / 8 / 1024, 2) }

    /// Bits as MiB with 3 decimals.
    static func mebibytes(bits: Int) -> String { Text.fixed(Double(bits) / 8 / 1_048_576, 3) }

    /// "[64, 64, 3, 3]"
    static func shape(_ dims: [Int]) -> String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

    /// A float with 4 significant-ish decimals: "-0.4512", "1.2e-05".
    static func value(_ v: Float) -> String {
        let d = Double(v)
        if d != 0 && abs(d) < 1e-3 {
            var exponent = 0
            var mantissa = abs(d)
            while mantissa < 1 { mantissa *= 10; exponent -= 1 }
            return (d < 0 ? "-" : "") + Text.fixed(mantissa, 1) + "e" + String(exponent)
        }
        return Text.fixed(d, 4)
    }
}

extension Format {
    /// At most 7 cells for values of any magnitude (traces, Ω): three significant digits in plain
    /// notation between 0.01 and 9999 ("0.0123", "12.3", "4567"), else one decimal and an exponent
    /// ("1.2e-5", "3.4e5"); "0" for zero.
    static func compact(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if v == 0 { return "0" }
        let sign = v < 0 ? "-" : ""
        let a = abs(v)
        if a >= 0.01 && a < 9999.5 {
            let decade = Int(log10(a).rounded(.down))
            let decimals = min(4, max(0, 2 - decade))
            // Rounding may carry into the next decade (99.96 -> "100.0"): then one decimal fewer.
            let carried = decimals > 0 && (a * pow(10, Double(decimals))).rounded(.toNearestOrEven) >= pow(10, Double(decade + 1 + decimals))
            return sign + Text.fixed(a, carried ? decimals - 1 : decimals)
        }
        var exponent = Int(log10(a).rounded(.down))
        var mantissa = a / pow(10, Double(exponent))
        if Text.fixed(mantissa, 1) == "10.0" {
            exponent += 1
            mantissa /= 10
        }
        return sign + Text.fixed(mantissa, 1) + "e" + String(exponent)
    }
}
