import Kernels

// Reading a Resize or Upsample node into a `ResizeOperator`: its inputs and attributes by opset.
//
//   Upsample 7:   X; attribute `scales`; mode nearest | linear (asymmetric coordinates)
//   Upsample 9:   X, scales
//   Resize 10:    X, scales                        (asymmetric coordinates)
//   Resize 11-13: X, roi, scales, sizes; coordinate_transformation_mode, cubic_coeff_a,
//                 exclude_outside, extrapolation_value, nearest_mode
//   Resize 18:    + antialias, axes, keep_aspect_ratio_policy
//   Resize 19:    + half_pixel_symmetric
// Exactly one of scales and sizes; an empty tensor or an empty input name counts as absent (the
// exporters' way of leaving out the optional roi and scales). All must be constant at compile time.

extension ResizeOperator {
    static func resize(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        guard c.opset >= 11 else {
            let scales = try c.constant(1, "scales").values.array
            return try build(c, input: input, scales: scales, sizes: nil, roi: nil, legacy: true)
        }
        let roi = try nonEmpty(c.optionalConstant(1, "roi"))?.values.array
        let scales = try nonEmpty(c.optionalConstant(2, "scales"))?.values.array
        let sizes = try nonEmpty(c.optionalConstant(3, "sizes"))?.ints
        return try build(c, input: input, scales: scales, sizes: sizes, roi: roi, legacy: false)
    }

    static func upsample(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let scales: [Float]
        if c.has(1) {
            scales = try c.constant(1, "scales").values.array
        } else if case .floats(let values)? = c.node.attributes["scales"] {
            scales = values
        } else {
            throw c.failure("no scales (input 1, or the attribute before opset 9)")
        }
        return try build(c, input: input, scales: scales, sizes: nil, roi: nil, legacy: true)
    }

    private static func nonEmpty(_ tensor: Tensor?) -> Tensor? {
        guard let tensor, tensor.count > 0 else { return nil }
        return tensor
    }

    /// - legacy: Upsample and opset-10 Resize: asymmetric coordinates, nearest rounding down when
    ///   upsampling and up when downsampling, no other attributes.
    private static func build(_ c: OperatorContext, input: ValueType, scales givenScales: [Float]?, sizes givenSizes: [Int]?,
                              roi givenRoi: [Float]?, legacy: Bool) throws -> ResizeOperator {
        let rank = input.rank
        guard rank >= 1 else { throw c.failure("the input is a scalar") }
        let modeName = try c.string("mode", "nearest")
        let interpolation: ResizeInterpolation
        switch modeName {
        case "nearest":
            let rounding = legacy ? "legacy" : try c.string("nearest_mode", "round_prefer_floor")
            guard let mode = ResizeNearestRounding(rawValue: rounding), legacy || mode != .legacy else {
                throw c.failure("nearest_mode '\(rounding)' is unknown")
            }
            interpolation = .nearest(mode)
        case "linear": interpolation = .linear
        case "bilinear" where legacy: interpolation = .linear
        case "cubic" where !legacy: interpolation = .cubic(a: Double(try c.float("cubic_coeff_a", -0.75)))
        default: throw c.failure("mode '\(modeName)' is unknown (nearest, linear\(legacy ? "" : ", cubic"))")
        }
        let coordinateName = legacy ? "asymmetric" : try c.string("coordinate_transformation_mode", "half_pixel")
        guard let coordinates = ResizeCoordinates(rawValue: coordinateName) else {
            throw c.failure("coordinate_transformation_mode '\(coordinateName)' is unknown")
        }
        let antialias = legacy ? false : try c.int("antialias", 0) != 0
        if antialias, case .nearest = interpolation { throw c.failure("antialias applies to linear and cubic modes only") }
        let excludeOutside = legacy ? false : try c.int("exclude_outside", 0) != 0
        let extrapolation = legacy ? 0 : try c.float("extrapolation_value", 0)
        let policy = legacy ? "stretch" : try c.string("keep_aspect_ratio_policy", "stretch")
        guard ["stretch", "not_larger", "not_smaller"].contains(policy) else {
            throw c.failure("keep_aspect_ratio_policy '\(policy)' is unknown")
        }
        let axes = try (legacy ? nil : c.optionalInts("axes")).map { try $0.map { try c.axis($0, rank: rank) } }
            ?? Array(0..<rank)
        guard Set(axes).count == axes.count else { throw c.failure("axes \(axes) repeat an axis") }

        if givenScales != nil, givenSizes != nil { throw c.failure("give scales or sizes, not both") }
        var scale = [Double](repeating: 1, count: rank)
        var outShape = input.shape
        if let givenScales {
            guard givenScales.count == axes.count else {
                throw c.failure("scales has \(givenScales.count) entries for \(axes.count) axes of the input \(input.shape)")
            }
            for (i, axis) in axes.enumerated() {
                let s = Double(givenScales[i])
                guard s > 0, s.isFinite else { throw c.failure("scale \(givenScales[i]) for axis \(axis) is not positive") }
                guard s * Double(input.shape[axis]) < Double(1 << 31) else {
                    throw c.failure("scale \(givenScales[i]) makes axis \(axis) (size \(input.shape[axis])) too large")
                }
                scale[axis] = s
                outShape[axis] = Int((s * Double(input.shape[axis])).rounded(.down))
            }
        } else if let givenSizes {
            guard givenSizes.count == axes.count else {
                throw c.failure("sizes has \(givenSizes.count) entries for \(axes.count) axes of the input \(input.shape)")
            }
            for (i, axis) in axes.enumerated() {
                guard givenSizes[i] >= 1, givenSizes[i] < 1 << 31 else {
                    throw c.failure("size \(givenSizes[i]) for axis \(axis) is not positive or too large")
                }
                guard input.shape[axis] >= 1 else { throw c.failure("axis \(axis) of the input \(input.shape) is empty") }
                scale[axis] = Double(givenSizes[i]) / Double(input.shape[axis])
                outShape[axis] = givenSizes[i]
            }
            if policy != "stretch" {
                // One scale for all listed axes, the sizes rounded half up from it.
                let chosen = policy == "not_larger" ? axes.map { scale[$0] }.min()! : axes.map { scale[$0] }.max()!
                for axis in axes {
                    scale[axis] = chosen
                    outShape[axis] = Int(chosen * Double(input.shape[axis]) + 0.5)
                }
            }
        } else {
            throw c.failure("give scales or sizes (neither is given)")
        }

        var roi = [(Double, Double)](repeating: (0, 1), count: rank)
        if coordinates == .tfCropAndResize {
            guard let givenRoi else { throw c.failure("tf_crop_and_resize needs a roi") }
            guard givenRoi.count == 2 * axes.count else {
                throw c.failure("roi has \(givenRoi.count) entries; \(2 * axes.count) expected (starts, then ends)")
            }
            for (i, axis) in axes.enumerated() { roi[axis] = (Double(givenRoi[i]), Double(givenRoi[axes.count + i])) }
        }

        var plans: [ResizeAxisPlan] = []
        for axis in 0..<rank {
            let unchanged = scale[axis] == 1 && outShape[axis] == input.shape[axis] && roi[axis] == (0, 1)
            guard !unchanged, outShape[axis] > 0 else { continue }
            guard input.shape[axis] >= 1 else { throw c.failure("axis \(axis) of the input \(input.shape) is empty") }
            plans.append(ResizeAxisPlan.make(axis: axis, inSize: input.shape[axis], outSize: outShape[axis], scale: scale[axis],
                                             interpolation: interpolation, coordinates: coordinates, roi: roi[axis],
                                             antialias: antialias, excludeOutside: excludeOutside))
        }
        if outShape.contains(0) { plans = [] }  // an empty output: nothing to compute

        var nearestOffsets: [[Int]]?
        if case .nearest = interpolation, plans.allSatisfy({ $0.extrapolated.isEmpty }), !plans.isEmpty {
            let strides = Shapes.strides(input.shape)
            var tables = (0..<rank).map { axis in (0..<outShape[axis]).map { $0 * strides[axis] } }
            for plan in plans { tables[plan.axis] = plan.indices.map { Int($0) * strides[plan.axis] } }
            nearestOffsets = tables
        }
        return ResizeOperator(outputTypes: [ValueType(input.dataType, outShape)], inputShape: input.shape, plans: plans,
                              extrapolationValue: extrapolation, nearestOffsets: nearestOffsets, threads: Parallel.maxThreads)
    }
}
