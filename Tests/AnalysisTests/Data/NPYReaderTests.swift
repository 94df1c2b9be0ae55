import Executor
import Foundation
import Testing
import Analysis

/// NPY.read against numpy-written fixtures (every dtype, header versions, byte orders, layouts) and
/// hand-built headers that exercise the Python-literal parser.
@Suite struct NPYReaderTests {
    private func read(_ name: String) throws -> NPYArray {
        try NPY.read(path: DataFixtures.path(name))
    }

    @Test func float32MatrixValuesAndMetadata() throws {
        let array = try read("f4_2x3.npy")
        #expect(array.descr == "<f4")
        #expect(array.dtype == .float32)
        #expect(array.shape == [2, 3])
        #expect(array.count == 6)
        #expect(!array.fortranOrder)
        #expect(array.file == DataFixtures.path("f4_2x3.npy"))
        #expect(array.floats() == [-1.5, 0, 0.25, 2, 3.5, -7])
    }

    @Test(arguments: ["v2_f4_2x3.npy", "v3_f4_2x3.npy"])
    func laterHeaderVersions(name: String) throws {
        let array = try read(name)
        #expect(array.shape == [2, 3])
        #expect(array.floats() == [-1.5, 0, 0.25, 2, 3.5, -7])
    }

    @Test func floatingPointDtypes() throws {
        #expect(try read("f8.npy").floats() == [Float(0.1 as Double), -2.5, 1e10])
        let half = try read("f2.npy")
        #expect(half.dtype == .float16)
        #expect(half.floats() == [0.5, -2, 65504, 0x1p-24, .infinity])
    }

    @Test func integerDtypesToFloatsAndInts() throws {
        let cases: [(String, NPYArray.DType, [Int])] = [
            ("i1.npy", .int8, [-128, -1, 0, 1, 127]),
            ("u1.npy", .uint8, [0, 1, 128, 255]),
            ("i2.npy", .int16, [-32768, 0, 32767]),
            ("u2.npy", .uint16, [0, 65535]),
            ("i4.npy", .int32, [-2_147_483_648, 7, 2_147_483_647]),
            ("u4.npy", .uint32, [0, 4_294_967_295]),
            ("i8.npy", .int64, [-(1 << 62), -1, 0, 1 << 62]),
            ("b1.npy", .bool, [1, 0, 1]),
        ]
        for (name, dtype, values) in cases {
            let array = try read(name)
            #expect(array.dtype == dtype, "\(name)")
            #expect(try array.integers() == values, "\(name)")
            #expect(array.floats() == values.map(Float.init), "\(name)")
        }
    }

    @Test func uint64BeyondIntIsAnErrorForLabelsButFineAsFloats() throws {
        let array = try read("u8.npy")
        #expect(array.floats() == [0, 9.223372e18, 1.8446744e19])
        expectDataError(file: DataFixtures.path("u8.npy"), "element 2 is 18446744073709551615, which does not fit a 64-bit integer", exact: true) {
            _ = try array.integers()
        }
    }

    @Test func floatsAsIntegersOnlyWhenIntegral() throws {
        var array = try read("f2.npy")  // [0.5, ...]
        expectDataError(file: array.file, "element 0 is 0.5, not an integer", exact: true) { _ = try array.integers() }
        array = try read("f4_2x3.npy")  // -1.5 first
        expectDataError(file: array.file, "element 0 is -1.5, not an integer", exact: true) { _ = try array.integers() }
        let integral = try NPY.read(makeNPYBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", data: float64Bytes([4, -1])), file: "mem")
        #expect(try integral.integers() == [4, -1])
        let nan = try NPY.read(makeNPYBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", data: float64Bytes([.nan])), file: "mem")
        expectDataError(file: "mem", "element 0 is nan, not an integer", exact: true) { _ = try nan.integers() }
    }

    @Test func bigEndianIsByteSwapped() throws {
        let f4 = try read("be_f4.npy")
        #expect(f4.descr == ">f4")
        #expect(f4.floats() == [1.5, -2, 3])
        #expect(try read("be_i2.npy").integers() == [-2, 258, 32767])
    }

    @Test func fortranOrderIsTransposedToC() throws {
        let array = try read("fortran_i4_2x3x4.npy")
        #expect(array.fortranOrder)
        #expect(array.shape == [2, 3, 4])
        #expect(try array.integers() == Array(0..<24))
    }

    @Test func scalarAndEmptyArrays() throws {
        let scalar = try read("scalar_f8.npy")
        #expect(scalar.shape == [])
        #expect(scalar.count == 1)
        #expect(scalar.floats() == [3.25])
        let empty = try read("empty_f4_0x3.npy")
        #expect(empty.shape == [0, 3])
        #expect(empty.count == 0)
        #expect(empty.floats() == [])
    }

    @Test func unsupportedDtypesSayWhat() {
        expectDataError(file: DataFixtures.path("object.npy"), "unsupported dtype '|O' (object arrays hold pickled Python objects)") {
            _ = try read("object.npy")
        }
        expectDataError(file: DataFixtures.path("structured.npy"), "structured array") { _ = try read("structured.npy") }
        expectDataError(file: DataFixtures.path("complex.npy"), "unsupported dtype '<c8' (complex numbers)") { _ = try read("complex.npy") }
    }

    @Test func brokenFiles() {
        expectDataError(file: DataFixtures.path("truncated.npy"), "truncated: expected 24 bytes of data, found 20", exact: true) {
            _ = try read("truncated.npy")
        }
        expectDataError(file: DataFixtures.path("too_long.npy"), "expected 24 bytes of data, found 28 (extra bytes after the array)", exact: true) {
            _ = try read("too_long.npy")
        }
        expectDataError(file: DataFixtures.path("header_cut.npy"), "truncated: the header claims 118 bytes but only 30 follow", exact: true) {
            _ = try read("header_cut.npy")
        }
        expectDataError(file: DataFixtures.path("random.npy"), "not a .npy file") { _ = try read("random.npy") }
        expectDataError(file: DataFixtures.path("absent.npy"), "no such file", exact: true) { _ = try read("absent.npy") }
        expectDataError(file: DataFixtures.directory, "is a directory, not a data file", exact: true) {
            _ = try NPY.read(path: DataFixtures.directory)
        }
        for length in 0..<12 {  // every cut inside the preamble
            let bytes = Array(DataFixtures.bytes("f4_2x3.npy").prefix(length))
            expectDataError(file: "cut", length < 6 ? "not a .npy file" : "truncated") { _ = try NPY.read(bytes, file: "cut") }
        }
    }

    // MARK: - Hand-built headers

    @Test func headerKeysInAnyOrderWithOtherSpellings() throws {
        let headers = [
            "{'shape': (2,), 'fortran_order': False, 'descr': '<i4'}",
            "{\"descr\":\"<i4\",\"shape\":(2,),\"fortran_order\":False}",
            "{ 'descr' : '<i4' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) , }",
            "{'descr': '<i4', 'fortran_order': False, 'shape': (2L,), }",  // Python 2 long
            "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\0\0",  // NUL padding
        ]
        for header in headers {
            let array = try NPY.read(makeNPYBytes(header, data: [5, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]), file: "mem")
            #expect(array.shape == [2], "\(header)")
            #expect(try array.integers() == [5, -1], "\(header)")
        }
    }

    @Test func multiDimensionalAndZeroDimensionalShapes() throws {
        let matrix = try NPY.read(makeNPYBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 1, 3), }", data: [1, 2, 3, 4, 5, 6]), file: "mem")
        #expect(matrix.shape == [2, 1, 3])
        let scalar = try NPY.read(makeNPYBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", data: [9]), file: "mem")
        #expect(scalar.shape == [])
        #expect(try scalar.integers() == [9])
        let fortran2D = try NPY.read(makeNPYBytes("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", data: [1, 4, 2, 5, 3, 6]), file: "mem")
        #expect(try fortran2D.integers() == [1, 2, 3, 4, 5, 6])
    }

    @Test func version2And3HeadersBuiltByHand() throws {
        for major: UInt8 in [2, 3] {
            let array = try NPY.read(makeNPYBytes("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }", data: [0x34, 0x12], major: major), file: "mem")
            #expect(try array.integers() == [0x1234])
        }
        expectDataError(file: "mem", "unsupported .npy format version 4.0 (qscope reads 1.0, 2.0 and 3.0)", exact: true) {
            _ = try NPY.read(makeNPYBytes("{}", data: [], major: 4), file: "mem")
        }
    }

    @Test(arguments: [
        ("{'descr': '<f4', 'fortran_order': False}", "no 'shape' entry"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unexpected key 'extra'"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", "'fortran_order' is not True or False"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1)}", "'shape' is not a tuple"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", "'shape' is not a tuple"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': ('1',)}", "'shape' holds something other than integers"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "negative dimension -1"),
        ("{'descr': 4, 'fortran_order': False, 'shape': (1,)}", "'descr' is not a string"),
        ("{'descr': '<f4', 'fortran_order': Flase, 'shape': (1,)}", "unknown name 'Flase'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", "expected ',' or '}' but found end of text"),
        ("{'descr: '<f4'}", "expected ':'"),
        ("{'descr': '<f4\n', 'fortran_order': False, 'shape': (1,)}", "unterminated string"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "integer too large"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "unexpected 'x' after the dictionary"),
        ("[1, 2]", "it is not a dictionary"),
        ("", "unexpected end of text"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4)}", "is too large"),
        ("{'descr': 'xyz', 'fortran_order': False, 'shape': (1,)}", "unsupported dtype 'xyz'"),
    ])
    func malformedHeaders(header: String, fragment: String) {
        expectDataError(file: "bad.npy", fragment) { _ = try NPY.read(makeNPYBytes(header, data: [0, 0, 0, 0]), file: "bad.npy") }
    }

    @Test func deeplyNestedHeaderIsRejectedNotACrash() {
        let header = "{'shape': " + String(repeating: "(", count: 10_000) + "}"
        expectDataError(file: "deep.npy", "nesting deeper than 32 levels") { _ = try NPY.read(makeNPYBytes(header, data: []), file: "deep.npy") }
    }

    @Test func canonicalBytesConstructorChecksTheLength() {
        expectDataError(file: "x", "shape [2, 2] of f4 needs 16 bytes, not 4", exact: true) {
            _ = try NPYArray(file: "x", descr: "<f4", dtype: .float32, shape: [2, 2], fortranOrder: false, bytes: [0, 0, 0, 0])
        }
    }
}

/// A `.npy` file with the given header text (padded like numpy) and data bytes.
func makeNPYBytes(_ header: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
    var text = Array(header.utf8)
    let lengthSize = major == 1 ? 2 : 4
    while (6 + 2 + lengthSize + text.count + 1) % 64 != 0 { text.append(UInt8(ascii: " ")) }
    text.append(UInt8(ascii: "\n"))
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
    for index in 0..<lengthSize { bytes.append(UInt8(truncatingIfNeeded: text.count >> (8 * index))) }
    return bytes + text + data
}

/// Little-endian float64 bytes.
func float64Bytes(_ values: [Double]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
}
