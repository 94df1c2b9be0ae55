/// DepthToSpace and SpaceToDepth (NCHW, block size b): each is a reshape to 6-D, a transpose and a
/// reshape back, so each runs as a `TransposeOperator` of the 6-D view (the output buffer already
/// has the 4-D layout), and reverse mode treats it as the permutation it is.
///
///   DepthToSpace DCR: [N, b, b, C/b², H, W] -perm 0,3,4,1,5,2-> [N, C/b², H, b, W, b]
///   DepthToSpace CRD: [N, C/b², b, b, H, W] -perm 0,1,4,2,5,3-> [N, C/b², H, b, W, b]
///   SpaceToDepth:     [N, C, H/b, b, W/b, b] -perm 0,3,5,1,2,4-> [N, b, b, C, H/b, W/b]
enum DepthSpaceRearrangement {
    static func depthToSpace(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let block = try c.int("blocksize", 0)
        let mode = try c.string("mode", "DCR")
        guard input.rank == 4 else { throw c.failure("the input must be 4-D [N, C, H, W], not \(input.shape)") }
        let (n, channels, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        guard block >= 1, channels % (block * block) == 0 else {
            throw c.failure("blocksize \(block) must be positive with its square dividing the \(channels) channels")
        }
        let depth = channels / (block * block)
        let view: [Int], perm: [Int]
        switch mode {
        case "DCR": (view, perm) = ([n, block, block, depth, h, w], [0, 3, 4, 1, 5, 2])
        case "CRD": (view, perm) = ([n, depth, block, block, h, w], [0, 1, 4, 2, 5, 3])
        default: throw c.failure("mode '\(mode)' is unknown (DCR, CRD)")
        }
        return TransposeOperator(outputTypes: [ValueType(input.dataType, [n, depth, h * block, w * block])],
                                 inputShape: view, perm: perm)
    }

    static func spaceToDepth(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let block = try c.int("blocksize", 0)
        guard input.rank == 4 else { throw c.failure("the input must be 4-D [N, C, H, W], not \(input.shape)") }
        let (n, channels, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        guard block >= 1, h % block == 0, w % block == 0 else {
            throw c.failure("blocksize \(block) must be positive and divide the height \(h) and width \(w)")
        }
        return TransposeOperator(outputTypes: [ValueType(input.dataType, [n, channels * block * block, h / block, w / block])],
                                 inputShape: [n, channels, h / block, block, w / block, block], perm: [0, 3, 5, 1, 2, 4])
    }
}
