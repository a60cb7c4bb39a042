;; Squared euclidean distances in WebAssembly with 128-bit SIMD (f32x4), for the exact neighbour search.
;;
;; Compiled by `npm run build:wasm` into distanceKernels.wasm.ts; src/compute/distanceKernels.ts owns the
;; memory layout and is the only caller. Rows are f32 with a stride that is a multiple of 4, zero-padded.

(module
  (memory (export "memory") 1)

  ;; out[j - j0] = |x_i - x_j|^2 for j0 <= j < j1; x holds rows of `stride` floats from byte offset x.
  ;; Two rows j at a time, so their independent sums overlap.
  (func (export "rowDistances")
    (param $x i32) (param $stride i32) (param $i i32) (param $j0 i32) (param $j1 i32) (param $out i32)
    (local $rowBytes i32) (local $pi i32) (local $pj i32) (local $c i32) (local $j i32) (local $o i32)
    (local $a v128) (local $b v128) (local $t v128) (local $u v128) (local $xi v128)
    (local.set $rowBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $pi (i32.add (local.get $x) (i32.mul (local.get $i) (local.get $rowBytes))))
    (local.set $j (local.get $j0))
    (local.set $o (local.get $out))
    (block $pairs_done
      (loop $pairs
        (br_if $pairs_done (i32.gt_s (i32.add (local.get $j) (i32.const 2)) (local.get $j1)))
        (local.set $pj (i32.add (local.get $x) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $a (v128.const i64x2 0 0))
        (local.set $b (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (block $dims_done
          (loop $dims
            (br_if $dims_done (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (local.set $xi (v128.load (i32.add (local.get $pi) (local.get $c))))
            (local.set $t (f32x4.sub (local.get $xi) (v128.load (i32.add (local.get $pj) (local.get $c)))))
            (local.set $u (f32x4.sub (local.get $xi)
              (v128.load (i32.add (i32.add (local.get $pj) (local.get $rowBytes)) (local.get $c)))))
            (local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $t) (local.get $t))))
            (local.set $b (f32x4.add (local.get $b) (f32x4.mul (local.get $u) (local.get $u))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $dims)))
        (f32.store (local.get $o) (call $sum4 (local.get $a)))
        (f32.store offset=4 (local.get $o) (call $sum4 (local.get $b)))
        (local.set $o (i32.add (local.get $o) (i32.const 8)))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $pairs)))
    ;; An odd last row.
    (if (i32.lt_s (local.get $j) (local.get $j1))
      (then
        (local.set $pj (i32.add (local.get $x) (i32.mul (local.get $j) (local.get $rowBytes))))
        (local.set $a (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (block $dims_done
          (loop $dims
            (br_if $dims_done (i32.ge_u (local.get $c) (local.get $rowBytes)))
            (local.set $t (f32x4.sub
              (v128.load (i32.add (local.get $pi) (local.get $c))) (v128.load (i32.add (local.get $pj) (local.get $c)))))
            (local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $t) (local.get $t))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br $dims)))
        (f32.store (local.get $o) (call $sum4 (local.get $a))))))

  ;; Sum of the four lanes of an f32x4.
  (func $sum4 (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
)
