;; Causal self-attention of one head in WebAssembly with 128-bit SIMD (f32x4): the scores of each query against
;; the keys at or before it, and the softmax-weighted sum of their values. Only the causal half is computed.
;;
;; Compiled by `npm run build:wasm` into attentionKernels.wasm.ts; src/compute/attention.ts owns the memory
;; layout and the softmax between the two calls, and is the only caller. Rows of q, k, v and out are `stride`
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

  ;; Sum of the four lanes of an f32x4.
  (func $sum4 (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
)
