;; t-SNE gradient kernels in WebAssembly with 128-bit SIMD (f32x4).
;;
;; Compiled by `npm run build:wasm` into tsneKernels.wasm.ts; src/compute/tsneKernels.ts owns the memory
;; layout and is the only caller. Positions are single precision in columns (xs, ys), padded to a multiple
;; of 8 with far-away sentinels whose terms round to zero, so the inner loops need no tail.

(module
  (memory (export "memory") 1)

  ;; Sum of the four lanes of an f32x4.
  (func $sum4 (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; Exact repulsion: for every point i, f_i = sum_j w_ij^2 (y_i - y_j) with w_ij = 1 / (1 + |y_i - y_j|^2),
  ;; written to fx[i] and fy[i]. Returns Z = sum over i != j of w_ij. Each pair i < j is measured once, its
  ;; term added to i and taken from j (30% faster than whole rows, the division being the bottleneck).
  ;; n points, padded to np (a multiple of 8); xs, ys, fx, fy are byte offsets of f32 columns.
  (func (export "repulsion")
    (param $n i32) (param $np i32) (param $xs i32) (param $ys i32) (param $fx i32) (param $fy i32) (result f64)
    (local $i i32) (local $o i32) (local $end i32) (local $z f64) (local $b i32)
    (local $one v128) (local $xi v128) (local $yi v128) (local $m0 v128) (local $m1 v128)
    (local $dx0 v128) (local $dy0 v128) (local $w0 v128) (local $ax0 v128) (local $ay0 v128) (local $az0 v128)
    (local $dx1 v128) (local $dy1 v128) (local $w1 v128) (local $ax1 v128) (local $ay1 v128) (local $az1 v128)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $end (i32.shl (local.get $np) (i32.const 2)))
    (memory.fill (local.get $fx) (i32.const 0) (local.get $end))
    (memory.fill (local.get $fy) (i32.const 0) (local.get $end))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $xi (v128.load32_splat (i32.add (local.get $xs) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $yi (v128.load32_splat (i32.add (local.get $ys) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $ax0 (v128.const i64x2 0 0))
        (local.set $ay0 (v128.const i64x2 0 0))
        (local.set $az0 (v128.const i64x2 0 0))
        (local.set $ax1 (v128.const i64x2 0 0))
        (local.set $ay1 (v128.const i64x2 0 0))
        (local.set $az1 (v128.const i64x2 0 0))
        ;; Start at the block of 8 holding column i + 1; its lanes j <= i are masked out, later blocks are whole.
        (local.set $b (i32.and (i32.add (local.get $i) (i32.const 1)) (i32.const -8)))
        (local.set $m0 (i32x4.gt_s
          (i32x4.add (i32x4.splat (local.get $b)) (v128.const i32x4 0 1 2 3)) (i32x4.splat (local.get $i))))
        (local.set $m1 (i32x4.gt_s
          (i32x4.add (i32x4.splat (local.get $b)) (v128.const i32x4 4 5 6 7)) (i32x4.splat (local.get $i))))
        (local.set $o (i32.shl (local.get $b) (i32.const 2)))
        ;; Eight columns per step in two independent chains, so one chain's division overlaps the other's.
        (block $columns_done
          (loop $columns
            (br_if $columns_done (i32.ge_u (local.get $o) (local.get $end)))
            (local.set $dx0 (f32x4.sub (local.get $xi) (v128.load (i32.add (local.get $xs) (local.get $o)))))
            (local.set $dy0 (f32x4.sub (local.get $yi) (v128.load (i32.add (local.get $ys) (local.get $o)))))
            (local.set $dx1 (f32x4.sub (local.get $xi) (v128.load offset=16 (i32.add (local.get $xs) (local.get $o)))))
            (local.set $dy1 (f32x4.sub (local.get $yi) (v128.load offset=16 (i32.add (local.get $ys) (local.get $o)))))
            (local.set $w0 (v128.and (local.get $m0)
              (f32x4.div (local.get $one)
                (f32x4.add (local.get $one)
                  (f32x4.add (f32x4.mul (local.get $dx0) (local.get $dx0)) (f32x4.mul (local.get $dy0) (local.get $dy0)))))))
            (local.set $w1 (v128.and (local.get $m1)
              (f32x4.div (local.get $one)
                (f32x4.add (local.get $one)
                  (f32x4.add (f32x4.mul (local.get $dx1) (local.get $dx1)) (f32x4.mul (local.get $dy1) (local.get $dy1)))))))
            (local.set $m0 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $m1 (v128.const i32x4 -1 -1 -1 -1))
            (local.set $az0 (f32x4.add (local.get $az0) (local.get $w0)))
            (local.set $az1 (f32x4.add (local.get $az1) (local.get $w1)))
            (local.set $w0 (f32x4.mul (local.get $w0) (local.get $w0)))
            (local.set $w1 (f32x4.mul (local.get $w1) (local.get $w1)))
            (local.set $dx0 (f32x4.mul (local.get $w0) (local.get $dx0)))
            (local.set $dy0 (f32x4.mul (local.get $w0) (local.get $dy0)))
            (local.set $dx1 (f32x4.mul (local.get $w1) (local.get $dx1)))
            (local.set $dy1 (f32x4.mul (local.get $w1) (local.get $dy1)))
            (local.set $ax0 (f32x4.add (local.get $ax0) (local.get $dx0)))
            (local.set $ay0 (f32x4.add (local.get $ay0) (local.get $dy0)))
            (local.set $ax1 (f32x4.add (local.get $ax1) (local.get $dx1)))
            (local.set $ay1 (f32x4.add (local.get $ay1) (local.get $dy1)))
            (v128.store (i32.add (local.get $fx) (local.get $o))
              (f32x4.sub (v128.load (i32.add (local.get $fx) (local.get $o))) (local.get $dx0)))
            (v128.store (i32.add (local.get $fy) (local.get $o))
              (f32x4.sub (v128.load (i32.add (local.get $fy) (local.get $o))) (local.get $dy0)))
            (v128.store offset=16 (i32.add (local.get $fx) (local.get $o))
              (f32x4.sub (v128.load offset=16 (i32.add (local.get $fx) (local.get $o))) (local.get $dx1)))
            (v128.store offset=16 (i32.add (local.get $fy) (local.get $o))
              (f32x4.sub (v128.load offset=16 (i32.add (local.get $fy) (local.get $o))) (local.get $dy1)))
            (local.set $o (i32.add (local.get $o) (i32.const 32)))
            (br $columns)))
        (f32.store (i32.add (local.get $fx) (i32.shl (local.get $i) (i32.const 2)))
          (f32.add (f32.load (i32.add (local.get $fx) (i32.shl (local.get $i) (i32.const 2))))
            (call $sum4 (f32x4.add (local.get $ax0) (local.get $ax1)))))
        (f32.store (i32.add (local.get $fy) (i32.shl (local.get $i) (i32.const 2)))
          (f32.add (f32.load (i32.add (local.get $fy) (i32.shl (local.get $i) (i32.const 2))))
            (call $sum4 (f32x4.add (local.get $ay0) (local.get $ay1)))))
        (local.set $z (f64.add (local.get $z)
          (f64.promote_f32 (call $sum4 (f32x4.add (local.get $az0) (local.get $az1))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))
    (f64.mul (f64.const 2) (local.get $z)))

  ;; Attraction: for every row i of a sparse matrix P in CSR form (rows: n + 1 i32 entry offsets, cols: i32,
  ;; vals: f32), g_i = scale * sum_e p_e w_ij (y_i - y_j), written to gx[i] and gy[i]. Each row's length
  ;; must be a multiple of 4 (padded with zero-valued entries), so four entries go through at once.
  ;; Positions are read from xy, the same coordinates interleaved, so one load fetches a neighbour's pair.
  (func (export "attraction")
    (param $n i32) (param $rows i32) (param $cols i32) (param $vals i32)
    (param $xy i32) (param $gx i32) (param $gy i32) (param $scale f32)
    (local $i i32) (local $e i32) (local $end i32)
    (local $one v128) (local $base v128) (local $c v128) (local $p01 v128) (local $p23 v128)
    (local $xi v128) (local $yi v128)
    (local $dx v128) (local $dy v128) (local $pw v128) (local $ax v128) (local $ay v128)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $base (i32x4.splat (local.get $xy)))
    (local.set $e (i32.shl (i32.load (local.get $rows)) (i32.const 2)))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $xi (v128.load32_splat (i32.add (local.get $xy) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $yi (v128.load32_splat offset=4 (i32.add (local.get $xy) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $end
          (i32.shl (i32.load offset=4 (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2)))
        (local.set $ax (v128.const i64x2 0 0))
        (local.set $ay (v128.const i64x2 0 0))
        (block $entries_done
          (loop $entries
            (br_if $entries_done (i32.ge_u (local.get $e) (local.get $end)))
            ;; Gather the four neighbours' (x, y) pairs (SIMD has no gather), then split them into x and y.
            (local.set $c
              (i32x4.add (i32x4.shl (v128.load (i32.add (local.get $cols) (local.get $e))) (i32.const 3)) (local.get $base)))
            (local.set $p01 (v128.load64_zero (i32x4.extract_lane 0 (local.get $c))))
            (local.set $p01 (v128.load64_lane 1 (i32x4.extract_lane 1 (local.get $c)) (local.get $p01)))
            (local.set $p23 (v128.load64_zero (i32x4.extract_lane 2 (local.get $c))))
            (local.set $p23 (v128.load64_lane 1 (i32x4.extract_lane 3 (local.get $c)) (local.get $p23)))
            (local.set $dx (f32x4.sub (local.get $xi) (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $p01) (local.get $p23))))
            (local.set $dy (f32x4.sub (local.get $yi) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $p01) (local.get $p23))))
            (local.set $pw
              (f32x4.div (v128.load (i32.add (local.get $vals) (local.get $e)))
                (f32x4.add (local.get $one)
                  (f32x4.add (f32x4.mul (local.get $dx) (local.get $dx)) (f32x4.mul (local.get $dy) (local.get $dy))))))
            (local.set $ax (f32x4.add (local.get $ax) (f32x4.mul (local.get $pw) (local.get $dx))))
            (local.set $ay (f32x4.add (local.get $ay) (f32x4.mul (local.get $pw) (local.get $dy))))
            (local.set $e (i32.add (local.get $e) (i32.const 16)))
            (br $entries)))
        (f32.store (i32.add (local.get $gx) (i32.shl (local.get $i) (i32.const 2)))
          (f32.mul (local.get $scale) (call $sum4 (local.get $ax))))
        (f32.store (i32.add (local.get $gy) (i32.shl (local.get $i) (i32.const 2)))
          (f32.mul (local.get $scale) (call $sum4 (local.get $ay))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows_loop))))
)
