/// 16 floats from `p` (any alignment): one 512-bit load.
@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }

/// 16 floats to `p` (any alignment): one 512-bit store.
@inline(__always)
func storeLanes(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}
