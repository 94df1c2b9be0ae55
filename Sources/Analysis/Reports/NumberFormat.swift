import Foundation

/// The number formatter shared by the command-line reports and the workbench's screen, so that a
/// value printed by `qscope eval --plan` and the same value on screen read the same.
///
/// Every function writes in the C locale (a `.` decimal point, no grouping) whatever the process
/// locale is: the workbench sets the locale for wide characters, and the reports must not change
/// with it.
public enum NumberFormat {
    /// `value` with exactly `decimals` digits after the point, rounded as C's `printf("%.*f")`
    /// rounds: to the nearest decimal of the exact binary value, ties (only possible when the
    /// binary value is exactly halfway) to even. `fixed(2.675, decimals: 2)` is "2.67" because the
    /// double nearest 2.675 is 2.67499999999999982236431605997495353221893310546875.
    ///
    /// - Parameters:
    ///   - decimals: digits after the point, 0...22 (0 prints no point).
    ///   - signedZero: true (printf's rule) keeps the minus of a negative value that rounds to zero
    ///     ("-0.00"); false writes such a value as "0.00" (the screen, where a lone minus on a zero
    ///     reads as a loss).
    /// - Returns: "nan", "inf" or "-inf" for non-finite values.
    ///
    /// Fast path (the screen formats hundreds of numbers a frame): the scaled value `value · 10^d` is
    /// formed together with its exact rounding error (one fused multiply-add), which decides the
    /// rounding of the exact binary value.
    public static func fixed(_ value: Double, decimals: Int, signedZero: Bool = true) -> String {
        precondition((0...22).contains(decimals), "NumberFormat.fixed: decimals must be in 0...22, got \(decimals)")
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        let magnitude = value.magnitude
        let scale = powersOfTen[decimals]  // exact: 10^d is a double for d <= 22
        let product = magnitude * scale
        // From 2^52 on a unit of the product is 1 or more and its rounding error can exceed half a
        // unit: format through C there (slow, exact). No report prints numbers that large.
        guard product < 0x1p52 else { return viaPrintf(value, decimals: decimals, signedZero: signedZero) }
        // magnitude · scale = product + error exactly, |error| <= half a unit in the last place of
        // product; error decides the cases where the rounded product sits on (or at) a half.
        let error = (-product).addingProduct(magnitude, scale)
        let floor = product.rounded(.down)
        let fraction = product - floor  // exact: floor is 0 or within a factor 2 of product
        var units = Int(floor)
        if fraction > 0.5 || (fraction == 0.5 && error > 0) {
            units += 1
        } else if fraction == 0.5 && error == 0 && units % 2 == 1 {
            units += 1  // an exact tie: to even, as printf does
        }
        // Otherwise the exact value is below the half (fraction < 0.5, or fraction == 0 with a
        // negative error, which is less than half a unit below floor): it rounds down to floor.
        var digits = String(units)
        if decimals > 0 {
            if digits.count <= decimals {
                digits = String(repeating: "0", count: decimals + 1 - digits.count) + digits
            }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        let negative = value.sign == .minus && (signedZero || units != 0)
        return negative ? "-" + digits : digits
    }

    /// `value` in scientific notation with `digits` digits after the point, as `printf("%.*e")`
    /// ("1.234e-05"); "nan", "inf", "-inf" for non-finite values.
    public static func scientific(_ value: Double, digits: Int) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(format: "%.\(digits)e", value)
    }

    /// `value` with `digits` significant digits, as `printf("%.*g")` (fixed or scientific, whichever
    /// is shorter, trailing zeros dropped); "nan", "inf", "-inf" for non-finite values.
    public static func significant(_ value: Double, digits: Int) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return String(format: "%.\(digits)g", value)
    }

    /// 10^0 ... 10^22, every one exactly representable.
    private static let powersOfTen: [Double] = (0...22).map { exponent in
        (0..<exponent).reduce(1.0) { product, _ in product * 10 }
    }

    /// Foundation's `String(format:)`, which is the C formatter in the C locale.
    private static func viaPrintf(_ value: Double, decimals: Int, signedZero: Bool) -> String {
        String(format: "%.\(decimals)f", value)  // never zero here: signedZero has nothing to drop
    }
}
