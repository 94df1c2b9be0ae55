/// Copies described as runs of consecutive elements: the data-movement derivatives (a head-split
/// Transpose moves whole 16-float rows) gather and scatter a run at a time, in whole vectors,
/// instead of one indexed element at a time.
///
/// Run r covers `lengths[r]` consecutive elements starting at `starts[r]` of the indexed side; on
/// the other side the runs follow one another from element 0.

/// `out[o ..< o + lengths[r]] = source[starts[r] ..< starts[r] + lengths[r]]` for the runs in order,
/// `o` the sum of the earlier runs' lengths.
public func gatherRuns(_ source: UnsafePointer<Float>, starts: UnsafePointer<Int32>, lengths: UnsafePointer<Int32>,
                       runs: Int, into out: UnsafeMutablePointer<Float>) {
    var o = 0
    for r in 0..<runs {
        let length = Int(lengths[r]), s = source + Int(starts[r]), d = out + o
        var j = 0
        while j &+ 16 <= length {
            storeLanes(loadLanes(s + j), d + j)
            j &+= 16
        }
        while j < length {
            d[j] = s[j]
            j &+= 1
        }
        o &+= length
    }
}

/// The reverse of `gatherRuns`: run r of `values` (in order from element 0) is stored into, or
/// with `accumulate` added to, `target[starts[r] ..< starts[r] + lengths[r]]`. Runs that overlap
/// in `target` add up when accumulating (the last one wins otherwise).
public func scatterRuns(_ values: UnsafePointer<Float>, starts: UnsafePointer<Int32>, lengths: UnsafePointer<Int32>,
                        runs: Int, into target: UnsafeMutablePointer<Float>, accumulate: Bool) {
    var o = 0
    for r in 0..<runs {
        let length = Int(lengths[r]), s = values + o, d = target + Int(starts[r])
        var j = 0
        if accumulate {
            while j &+ 16 <= length {
                storeLanes(loadLanes(d + j) + loadLanes(s + j), d + j)
                j &+= 16
            }
            while j < length {
                d[j] += s[j]
                j &+= 1
            }
        } else {
            while j &+ 16 <= length {
                storeLanes(loadLanes(s + j), d + j)
                j &+= 16
            }
            while j < length {
                d[j] = s[j]
                j &+= 1
            }
        }
        o &+= length
    }
}
