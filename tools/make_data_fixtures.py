#!/usr/bin/env python3
"""Regenerates the evaluation-data fixtures in Tests/Fixtures/data/ (read by Tests/AnalysisTests/Data).

Run from anywhere: `python3 tools/make_data_fixtures.py` (needs numpy >= 2). The Swift tests read only
the committed output; Python is never needed at test time. Everything is tiny (< 50 KB in total).

The .npz files carry zip timestamps, so rerunning changes their bytes but not their content; every other
file is byte-for-byte reproducible. The `ref_*.npy` files are numpy's own output for arrays that the
Swift tests also write with `NPY.writeFloat32`, so those tests compare our writer against numpy byte
for byte (numpy pads the header with spaces and a newline to a multiple of 64 bytes, after 21 spare
spaces for in-place growth of the first axis).
"""
import gzip
import io
import os
import struct
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "data")


def path(name):
    return os.path.join(OUT, name)


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def npy_bytes(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=True)
    return buf.getvalue()


def save(name, array, version=None):
    write_bytes(name, npy_bytes(array, version))


def idx_bytes(magic, dims, payload):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)


def gzip_bytes(data, filename=None):
    # mtime=0 keeps the output reproducible.
    buf = io.BytesIO()
    with gzip.GzipFile(filename=filename or "", mode="wb", fileobj=buf, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def raw_deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(path(name))

    # --- .npy: values and dtypes -------------------------------------------------------------
    f4 = np.array([[-1.5, 0.0, 0.25], [2.0, 3.5, -7.0]], dtype="<f4")
    save("f4_2x3.npy", f4)                                   # also the writer's byte reference
    save("v2_f4_2x3.npy", f4, version=(2, 0))
    save("v3_f4_2x3.npy", f4, version=(3, 0))
    save("f8.npy", np.array([0.1, -2.5, 1e10], dtype="<f8"))
    save("f2.npy", np.array([0.5, -2.0, 65504.0, 2.0 ** -24, np.inf], dtype="<f2"))
    save("i1.npy", np.array([-128, -1, 0, 1, 127], dtype="|i1"))
    save("u1.npy", np.array([0, 1, 128, 255], dtype="|u1"))
    save("i2.npy", np.array([-32768, 0, 32767], dtype="<i2"))
    save("u2.npy", np.array([0, 65535], dtype="<u2"))
    save("i4.npy", np.array([-2147483648, 7, 2147483647], dtype="<i4"))
    save("u4.npy", np.array([0, 4294967295], dtype="<u4"))
    save("i8.npy", np.array([-(2 ** 62), -1, 0, 2 ** 62], dtype="<i8"))
    save("u8.npy", np.array([0, 2 ** 63 - 1, 2 ** 64 - 1], dtype="<u8"))
    save("b1.npy", np.array([True, False, True], dtype="|b1"))
    save("be_f4.npy", np.array([1.5, -2.0, 3.0], dtype=">f4"))
    save("be_i2.npy", np.array([-2, 258, 32767], dtype=">i2"))
    save("fortran_i4_2x3x4.npy", np.asfortranarray(np.arange(24, dtype="<i4").reshape(2, 3, 4)))
    save("scalar_f8.npy", np.array(3.25, dtype="<f8"))
    save("empty_f4_0x3.npy", np.zeros((0, 3), dtype="<f4"))
    save("object.npy", np.array([1, "a", None], dtype=object))
    save("structured.npy", np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
    save("complex.npy", np.array([1 + 2j], dtype="<c8"))

    # --- .npy: broken files ------------------------------------------------------------------
    write_bytes("truncated.npy", npy_bytes(f4)[:-4])                 # 20 of 24 data bytes
    write_bytes("too_long.npy", npy_bytes(f4) + b"\0\0\0\0")         # 28 of 24 data bytes
    write_bytes("header_cut.npy", npy_bytes(f4)[:40])                # ends inside the header
    rng = np.random.default_rng(1234)
    write_bytes("random.npy", rng.integers(0, 256, 200, dtype=np.uint8).tobytes())

    # --- writer references (numpy's own bytes) ------------------------------------------------
    save("ref_f4_1d.npy", np.array([1.0, -0.5, 3.0e-5, 1.0e20, 0.0], dtype="<f4"))
    save("ref_f4_0d.npy", np.array(-4.75, dtype="<f4"))
    save("ref_f4_2x1x2x2.npy", np.arange(8, dtype="<f4").reshape(2, 1, 2, 2) / 8)
    save("ref_f4_empty.npy", np.zeros((0,), dtype="<f4"))
    save("ref_f4_12345x0.npy", np.zeros((12345, 0), dtype="<f4"))
    # Rank 15: only numpy's 20 spare growth spaces push this header from 128 to 192 bytes.
    save("ref_f4_rank15.npy", np.full((1,) * 15, 2.5, dtype="<f4"))

    # --- .npz ----------------------------------------------------------------------------------
    x = (np.arange(16, dtype="<f4").reshape(4, 1, 2, 2) - 8) / 4
    y = np.array([3, 0, 9, 1], dtype="<i8")
    np.savez(path("stored.npz"), x=x, y=y)
    np.savez_compressed(path("deflated.npz"), x=x, y=y)
    np.savez(path("x_only.npz"), x=x)
    np.savez(path("u8_images.npz"), x=np.array([[0, 255], [128, 7]], dtype="|u1"),
             y=np.array([1, 2], dtype="|u1"))
    np.savez(path("y_float.npz"), x=np.zeros((3, 2), dtype="<f4"), y=np.array([2.0, 0.0, 1.0]))
    np.savez(path("y_fraction.npz"), x=np.zeros((3, 2), dtype="<f4"), y=np.array([2.0, 0.5, 1.0]))
    np.savez(path("y_count.npz"), x=np.zeros((3, 2), dtype="<f4"), y=np.array([1, 2], dtype="<i4"))
    np.savez(path("no_x.npz"), inputs=x, y=y)
    np.savez(path("scalar_x.npz"), x=np.array(1.0, dtype="<f4"))
    np.savez(path("empty_x.npz"), x=np.zeros((0, 4), dtype="<f4"))
    write_bytes("random.npz", rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    import zipfile
    with zipfile.ZipFile(path("bad_entry.npz"), "w") as z:  # x.npy is not an .npy file
        z.writestr("x.npy", b"this is not an npy file")

    # --- labels as a plain .npy (for an unlabelled x.npy) ---------------------------------------
    save("labels_i4.npy", np.array([3, 0, 9, 1], dtype="<i4"))
    save("x_4x1x2x2.npy", x)

    # --- IDX -----------------------------------------------------------------------------------
    images = (np.arange(3 * 4 * 5) * 17 % 256).astype(np.uint8)
    labels = [7, 0, 9]
    img = idx_bytes(0x803, [3, 4, 5], images)
    lab = idx_bytes(0x801, [3], labels)
    write_bytes("tiny-images-idx3-ubyte", img)
    write_bytes("tiny-labels-idx1-ubyte", lab)
    write_bytes("tinygz-images-idx3-ubyte.gz", gzip_bytes(img, "tinygz-images-idx3-ubyte"))
    write_bytes("tinygz-labels-idx1-ubyte.gz", gzip_bytes(lab, "tinygz-labels-idx1-ubyte"))
    write_bytes("nolabels-images-idx3-ubyte", img)                 # no labels file beside it
    write_bytes("mismatch-images-idx3-ubyte", img)
    write_bytes("mismatch-labels-idx1-ubyte", idx_bytes(0x801, [2], labels[:2]))
    write_bytes("truncated-images-idx3-ubyte", img[:-1])
    write_bytes("int32-images-idx3-ubyte", idx_bytes(0xC03, [1, 1, 1], [0, 0, 0, 5]))

    # --- gzip: every optional header field, and broken trailers ---------------------------------
    payload = bytes(range(256)) * 3
    body = raw_deflate(payload)
    flg = 0x02 | 0x04 | 0x08 | 0x10                                 # FHCRC FEXTRA FNAME FCOMMENT
    head = bytes([0x1F, 0x8B, 8, flg]) + struct.pack("<I", 0) + bytes([2, 3])
    head += struct.pack("<H", 6) + b"ab\x02\x00zz"                  # FEXTRA: one 6-byte subfield
    head += b"payload.bin\0" + b"a comment\0"
    head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    trailer = struct.pack("<II", zlib.crc32(payload), len(payload))
    write_bytes("all_flags.gz", head + body + trailer)
    write_bytes("bad_crc.gz", head + body + struct.pack("<II", zlib.crc32(payload) ^ 1, len(payload)))
    write_bytes("bad_size.gz", head + body + struct.pack("<II", zlib.crc32(payload), len(payload) + 1))
    write_bytes("bad_hcrc.gz", head[:-2] + b"\0\0" + body + trailer)
    write_bytes("truncated.gz", (head + body)[:-10])
    write_bytes("empty_payload.gz", gzip_bytes(b""))

    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    assert total < 50_000, total

    # Self-checks: numpy reads the broken-on-purpose files the way the Swift tests expect.
    assert np.load(path("fortran_i4_2x3x4.npy"))[1, 2, 3] == 23
    with np.load(path("deflated.npz")) as d:
        assert d["x"].dtype == np.float32 and list(d["y"]) == [3, 0, 9, 1]
    assert gzip.decompress(open(path("all_flags.gz"), "rb").read()) == payload
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")


if __name__ == "__main__":
    main()
