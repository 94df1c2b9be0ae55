import Analysis
import Foundation
import Testing

/// `NumberFormat.fixed` must print exactly what C's printf prints (Foundation's `String(format:)`
/// is printf in the C locale), including the halfway cases where rounding the scaled value in
/// floating point would go the other way.
@Suite struct NumberFormatTests {
    private func printf(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }

    @Test func halfwayDecimalsRoundTheExactBinaryValue() {
        // 1.115 is stored as 1.11499999999999999112..., but 1.115 * 100 rounds up to exactly 111.5:
        // rounding the product would print 1.12; printf prints 1.11.
        #expect(NumberFormat.fixed(1.115, decimals: 2) == "1.11")
        #expect(NumberFormat.fixed(2.675, decimals: 2) == "2.67")
        #expect(NumberFormat.fixed(1.005, decimals: 2) == "1.00")
        // Exact ties go to even, as printf does.
        #expect(NumberFormat.fixed(0.125, decimals: 2) == "0.12")
        #expect(NumberFormat.fixed(0.375, decimals: 2) == "0.38")
        #expect(NumberFormat.fixed(2.5, decimals: 0) == "2")
        #expect(NumberFormat.fixed(3.5, decimals: 0) == "4")
        for value in [1.115, 2.675, 1.005, 0.125, 0.375, 2.5, 3.5, 92.845, 0.045, 1e-7, 123456.789] {
            for decimals in 0...6 { #expect(NumberFormat.fixed(value, decimals: decimals) == printf(value, decimals), "\(value) \(decimals)") }
        }
    }

    @Test func signsZeroAndNonFiniteValues() {
        #expect(NumberFormat.fixed(-0.004, decimals: 2) == "-0.00")
        #expect(NumberFormat.fixed(-0.004, decimals: 2, signedZero: false) == "0.00")
        #expect(NumberFormat.fixed(-0.006, decimals: 2, signedZero: false) == "-0.01")
        #expect(NumberFormat.fixed(-0.0, decimals: 1) == printf(-0.0, 1))
        #expect(NumberFormat.fixed(0, decimals: 0) == "0")
        #expect(NumberFormat.fixed(-12.5, decimals: 0) == "-12")
        #expect(NumberFormat.fixed(.nan, decimals: 2) == "nan")
        #expect(NumberFormat.fixed(.infinity, decimals: 2) == "inf")
        #expect(NumberFormat.fixed(-.infinity, decimals: 2) == "-inf")
        #expect(NumberFormat.fixed(1e300, decimals: 2) == printf(1e300, 2))
        #expect(NumberFormat.fixed(4503599627370497.5, decimals: 1) == printf(4503599627370497.5, 1))
    }

    /// Decimals that end in 5 just past the last printed digit (the hard cases: the double is a
    /// hair above or below the half, or exactly on it), over magnitudes from 1e-6 to 1e9, and
    /// thirds and sevenths (no halves at all), against printf.
    @Test func agreesWithPrintfOnHalfwayDecimals() {
        var mismatches: [String] = []
        for k in stride(from: 0, to: 1_000_000, by: 37) {
            for exponent in [-6, -3, 0, 3] {
                let halfway = Double("\(k / 1000).\(k % 1000)5e\(exponent)")!
                for value in [halfway, -halfway, Double(k) / 3 * pow(10, Double(exponent)), Double(k) / 7] {
                    for decimals in [0, 1, 2, 3, 4] {
                        let ours = NumberFormat.fixed(value, decimals: decimals)
                        let theirs = printf(value, decimals)
                        if ours != theirs, mismatches.count < 10 { mismatches.append("\(value) decimals \(decimals): \(ours) vs printf \(theirs)") }
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test func scientificAndSignificantDigitsAsPrintf() {
        #expect(NumberFormat.scientific(0.000012345, digits: 3) == "1.234e-05" || NumberFormat.scientific(0.000012345, digits: 3) == "1.235e-05")
        #expect(NumberFormat.scientific(0.000012345, digits: 3) == String(format: "%.3e", 0.000012345))
        #expect(NumberFormat.significant(12345.678, digits: 4) == "1.235e+04")
        #expect(NumberFormat.significant(0.5, digits: 4) == "0.5")
        #expect(NumberFormat.scientific(.infinity, digits: 3) == "inf")
        #expect(NumberFormat.significant(.nan, digits: 4) == "nan")
    }
}
