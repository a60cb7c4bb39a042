;; Causal self-attention of one head in WebAssembly with 128-bit SIMD (f32x4): the scores of each query against
;; the keys at or before it, their softmax, and the softmax-weighted sum of the values. Only the causal half of the
;; score square is computed.
;;
;; Compiled by `npm run build:wasm` into attentionKernels.wasm.ts; src/compute/attention.ts owns the memory
;; layout and is the only caller. Rows of q, k, v and out are `stride`
;; floats apart (a head's `dim` floats sit inside each row); dim is a multiple of 4; scores are tokens x tokens.

(module
  (memory (export "memory") 1)

  ;; scores[i][j] = scale * q_i · k_j for j <= i (the rest of the square is not written).
  ;; Two keys at a time, so their independent sums overlap.
  (func (export "scores")
    (param $q i32) (param $k i32) (param $stride i32) (param $tokens i32) (param $dim i32) (param $scale f32)
    (param $out i32)
    (local $rowBytes i32) (local $dimBytes i32) (local $i i32) (local $j i32) (local $c i32)
    (local $pq i32) (local $pk i32) (local $po i32) (local $a v128) (local $b v128) (local $x v128)
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $dimBytes (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $queries_done
      (loop $queries
        (br_if $queries_done (i32.ge_s (local.get $i) (local.get $tokens)))
        (local.set $pq (i32.add (local.get $q) (i32.mul (local.get $i) (local.get $rowBytes))))
        (local.set $po (i32.add (local.get $out) (i32.shl (i32.mul (local.get $i) (local.get $tokens)) (i32.const 2))))
        (local.set $j (i32.const 0))
        (block $pairs_done
          (loop $pairs
            (br_if $pairs_done (i32.gt_s (i32.add (local.get $j) (i32.const 1)) (local.get $i)))
            (local.set $pk (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $rowBytes))))
            (local.set $a (v128.const i64x2 0 0))
            (local.set $b (v128.const i64x2 0 0))
            (local.set $c (i32.const 0))
            (block $dims_done
              (loop $dims
                (br_if $dims_done (i32.ge_u (local.get $c) (local.get $dimBytes)))
                (local.set $x (v128.load (i32.add (local.get $pq) (local.get $c))))
                (local.set $a (f32x4.add (local.get $a)
                  (f32x4.mul (local.get $x) (v128.load (i32.add (local.get $pk) (local.get $c))))))
                (local.set $b (f32x4.add (local.get $b)
                  (f32x4.mul (local.get $x)
                    (v128.load (i32.add (i32.add (local.get $pk) (local.get $rowBytes)) (local.get $c))))))
                (local.set $c (i32.add (local.get $c) (i32.const 16)))
                (br $dims)))
            (f32.store (local.get $po) (f32.mul (local.get $scale) (call $sum4 (local.get $a))))
            (f32.store offset=4 (local.get $po) (f32.mul (local.get $scale) (call $sum4 (local.get $b))))
            (local.set $po (i32.add (local.get $po) (i32.const 8)))
            (local.set $j (i32.add (local.get $j) (i32.const 2)))
            (br $pairs)))
        ;; The last key (j = i) when an odd number remain.
        (if (i32.le_s (local.get $j) (local.get $i))
          (then
            (local.set $pk (i32.add (local.get $k) (i32.mul (local.get $j) (local.get $rowBytes))))
            (local.set $a (v128.const i64x2 0 0))
            (local.set $c (i32.const 0))
            (block $dims_done
              (loop $dims
                (br_if $dims_done (i32.ge_u (local.get $c) (local.get $dimBytes)))
                (local.set $a (f32x4.add (local.get $a)
                  (f32x4.mul (v128.load (i32.add (local.get $pq) (local.get $c)))
                    (v128.load (i32.add (local.get $pk) (local.get $c))))))
                (local.set $c (i32.add (local.get $c) (i32.const 16)))
                (br $dims)))
            (f32.store (local.get $po) (f32.mul (local.get $scale) (call $sum4 (local.get $a))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $queries))))

  ;; out_i = sum over j <= i of p[i][j] * v_j, four dimensions at a time; two accumulators over alternate keys.
  (func (export "mix")
    (param $p i32) (param $v i32) (param $stride i32) (param $tokens i32) (param $dim i32) (param $out i32)
    (local $rowBytes i32) (local $dimBytes i32) (local $i i32) (local $j i32) (local $c i32)
    (local $pp i32) (local $pv i32) (local $a v128) (local $b v128)
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $dimBytes (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $queries_done
      (loop $queries
        (br_if $queries_done (i32.ge_s (local.get $i) (local.get $tokens)))
        (local.set $c (i32.const 0))
        (block $dims_done
          (loop $dims
            (br_if $dims_done (i32.ge_u (local.get $c) (local.get $dimBytes)))
            (local.set $pp (i32.add (local.get $p) (i32.shl (i32.mul (local.get $i) (local.get $tokens)) (i32.const 2))))
            (local.set $pv (i32.add (local.get $v) (local.get $c)))
            (local.set $a (v128.const i64x2 0 0))
            (local.set $b (v128.const i64x2 0 0))
            (local.set $j (i32.const 0))
            (block $pairs_done
              (loop $pairs
                (br_if $pairs_done (i32.gt_s (i32.add (local.get $j) (i32.const 1)) (local.get $i)))
                (local.set $a (f32x4.add (local.get $a)
                  (f32x4.mul (f32x4.splat (f32.load (local.get $pp))) (v128.load (local.get $pv)))))
                (local.set $b (f32x4.add (local.get $b)
                  (f32x4.mul (f32x4.splat (f32.load offset=4 (local.get $pp)))
                    (v128.load (i32.add (local.get $pv) (local.get $rowBytes))))))
                (local.set $pp (i32.add (local.get $pp) (i32.const 8)))
                (local.set $pv (i32.add (local.get $pv) (i32.shl (local.get $rowBytes) (i32.const 1))))
                (local.set $j (i32.add (local.get $j) (i32.const 2)))
                (br $pairs)))
            (if (i32.le_s (local.get $j) (local.get $i))
              (then
                (local.set $a (f32x4.add (local.get $a)
                  (f32x4.mul (f32x4.splat (f32.load (local.get $pp))) (v128.load (local.get $pv)))))))
            (v128.store
              (i32.add (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $rowBytes))) (local.get $c))
              (f32x4.add (local.get $a) (local.get $b)))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $dims)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $queries))))

  ;; mix for dim a multiple of 16: four accumulators over 16 dimensions share each weight's load and splat.
  (func (export "mix16")
    (param $p i32) (param $v i32) (param $stride i32) (param $tokens i32) (param $dim i32) (param $out i32)
    (local $rowBytes i32) (local $dimBytes i32) (local $i i32) (local $j i32) (local $c i32)
    (local $pp i32) (local $pv i32) (local $w v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $po i32)
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $dimBytes (i32.shl (local.get $dim) (i32.const 2)))
    (local.set $i (i32.const 0))
    (block $queries_done
      (loop $queries
        (br_if $queries_done (i32.ge_s (local.get $i) (local.get $tokens)))
        (local.set $c (i32.const 0))
        (block $dims_done
          (loop $dims
            (br_if $dims_done (i32.ge_u (local.get $c) (local.get $dimBytes)))
            (local.set $pp (i32.add (local.get $p) (i32.shl (i32.mul (local.get $i) (local.get $tokens)) (i32.const 2))))
            (local.set $pv (i32.add (local.get $v) (local.get $c)))
            (local.set $a0 (v128.const i64x2 0 0))
            (local.set $a1 (v128.const i64x2 0 0))
            (local.set $a2 (v128.const i64x2 0 0))
            (local.set $a3 (v128.const i64x2 0 0))
            (local.set $j (i32.const 0))
            (block $keys_done
              (loop $keys
                (br_if $keys_done (i32.gt_s (local.get $j) (local.get $i)))
                (local.set $w (f32x4.splat (f32.load (local.get $pp))))
                (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $w) (v128.load (local.get $pv)))))
                (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $w) (v128.load offset=16 (local.get $pv)))))
                (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $w) (v128.load offset=32 (local.get $pv)))))
                (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $w) (v128.load offset=48 (local.get $pv)))))
                (local.set $pp (i32.add (local.get $pp) (i32.const 4)))
                (local.set $pv (i32.add (local.get $pv) (local.get $rowBytes)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $keys)))
            (local.set $po (i32.add (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $rowBytes))) (local.get $c)))
            (v128.store (local.get $po) (local.get $a0))
            (v128.store offset=16 (local.get $po) (local.get $a1))
            (v128.store offset=32 (local.get $po) (local.get $a2))
            (v128.store offset=48 (local.get $po) (local.get $a3))
            (local.set $c (i32.add (local.get $c) (i32.const 64)))
            (br $dims)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $queries))))

  ;; Row i of the tokens x tokens square at s, over its first i + 1 entries, replaced by their softmax (after
  ;; subtracting the row's maximum); the entries after them are left as they were.
  (func (export "softmaxRows") (param $s i32) (param $tokens i32)
    (local $i i32) (local $row i32) (local $n i32) (local $c i32) (local $at i32) (local $mask v128)
    (local $m v128) (local $sum v128) (local $e v128) (local $max f32) (local $inverse v128)
    (local.set $i (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_s (local.get $i) (local.get $tokens)))
        (local.set $row (i32.add (local.get $s) (i32.shl (i32.mul (local.get $i) (local.get $tokens)) (i32.const 2))))
        (local.set $n (i32.add (local.get $i) (i32.const 1)))
        ;; The lanes of the last, partial chunk that belong to the row.
        (local.set $mask (i32x4.lt_s (v128.const i32x4 0 1 2 3) (i32x4.splat (i32.and (local.get $n) (i32.const 3)))))
        ;; The maximum.
        (local.set $m (f32x4.splat (f32.const -inf)))
        (local.set $c (i32.const 0))
        (block $max_done
          (loop $max
            (br_if $max_done (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $n)))
            (local.set $m (f32x4.max (local.get $m) (v128.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $max)))
        (if (i32.lt_s (local.get $c) (local.get $n))
          (then
            (local.set $m (f32x4.max (local.get $m)
              (v128.bitselect (v128.load (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
                (f32x4.splat (f32.const -inf)) (local.get $mask))))))
        (local.set $max (f32.max
          (f32.max (f32x4.extract_lane 0 (local.get $m)) (f32x4.extract_lane 1 (local.get $m)))
          (f32.max (f32x4.extract_lane 2 (local.get $m)) (f32x4.extract_lane 3 (local.get $m)))))
        (local.set $m (f32x4.splat (local.get $max)))
        ;; exp(x - max), and their sum.
        (local.set $sum (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (block $exp_done
          (loop $exp
            (br_if $exp_done (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $n)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
            (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $at)) (local.get $m))))
            (v128.store (local.get $at) (local.get $e))
            (local.set $sum (f32x4.add (local.get $sum) (local.get $e)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $exp)))
        (if (i32.lt_s (local.get $c) (local.get $n))
          (then
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
            (local.set $e (v128.bitselect (call $exp4 (f32x4.sub (v128.load (local.get $at)) (local.get $m)))
              (v128.const i64x2 0 0) (local.get $mask)))
            (v128.store (local.get $at) (v128.bitselect (local.get $e) (v128.load (local.get $at)) (local.get $mask)))
            (local.set $sum (f32x4.add (local.get $sum) (local.get $e)))))
        ;; Divided by the sum.
        (local.set $inverse (f32x4.splat (f32.div (f32.const 1) (call $sum4 (local.get $sum)))))
        (local.set $c (i32.const 0))
        (block $scale_done
          (loop $scale
            (br_if $scale_done (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $n)))
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
            (v128.store (local.get $at) (f32x4.mul (v128.load (local.get $at)) (local.get $inverse)))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $scale)))
        (if (i32.lt_s (local.get $c) (local.get $n))
          (then
            (local.set $at (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))))
            (local.set $e (v128.load (local.get $at)))
            (v128.store (local.get $at)
              (v128.bitselect (f32x4.mul (local.get $e) (local.get $inverse)) (local.get $e) (local.get $mask)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  ;; e^x for x <= 0 (a softmax's shifted scores), to about 2e-7 relative: x = (n + f) ln 2 with n an integer and
  ;; |f| <= 1/2, e^(f ln 2) by its Taylor series to degree 7, 2^n built in the exponent bits. Below -87.3 (e^x
  ;; under float32's smallest normal) the input is clamped, giving about 1e-38 instead of 0.
  (func $exp4 (param $x v128) (result v128)
    (local $t v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $t (f32x4.mul (f32x4.max (local.get $x) (f32x4.splat (f32.const -87.3))) (f32x4.splat (f32.const 1.44269504))))
    (local.set $n (f32x4.nearest (local.get $t)))
    (local.set $r (f32x4.mul (f32x4.sub (local.get $t) (local.get $n)) (f32x4.splat (f32.const 0.693147181))))
    (local.set $p (f32x4.splat (f32.const 1.98412698e-4)))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1.38888889e-3)) (f32x4.mul (local.get $r) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 8.33333333e-3)) (f32x4.mul (local.get $r) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 4.16666667e-2)) (f32x4.mul (local.get $r) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1.66666667e-1)) (f32x4.mul (local.get $r) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 0.5)) (f32x4.mul (local.get $r) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $r) (local.get $p))))
    (local.set $p (f32x4.add (f32x4.splat (f32.const 1)) (f32x4.mul (local.get $r) (local.get $p))))
    (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  ;; Sum of the four lanes of an f32x4.
  (func $sum4 (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
)
