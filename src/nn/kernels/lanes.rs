//! Vector lanes for the direct convolution loops: one small trait over a vector of `f32`,
//! implemented with AVX-512, with AVX2 and FMA, and portably, and [`dispatch`], which runs a
//! loop written once over the trait with the best implementation the processor has. A lane
//! type's value is a token: it is made only after its processor features were detected.

/// A vector of `L` lanes of `f32` and the operations the loops use.
///
/// # Safety
/// Every method may use processor features that the token's existence proves; `load` and
/// `store` read and write `L` elements from the pointer, which must be valid for them.
pub trait Lanes: Copy {
    /// Lanes per vector.
    const L: usize;
    /// The vector.
    type V: Copy;
    /// All lanes zero.
    unsafe fn zero(self) -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(self, x: f32) -> Self::V;
    /// `L` elements from `p`, unaligned.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// The lanes to `p`, unaligned.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// `a * b + c`, lane by lane (fused where the processor has it).
    unsafe fn madd(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// The sum of the lanes, in a fixed order.
    unsafe fn sum(self, v: Self::V) -> f32;
}

/// Eight lanes in plain arithmetic, for any processor.
#[derive(Clone, Copy)]
pub struct Portable;

impl Lanes for Portable {
    const L: usize = 8;
    type V = [f32; 8];
    #[inline(always)]
    unsafe fn zero(self) -> [f32; 8] {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn splat(self, x: f32) -> [f32; 8] {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> [f32; 8] {
        // SAFETY: the caller keeps `p..p + 8` inside one slice.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: [f32; 8]) {
        // SAFETY: the caller keeps `p..p + 8` inside one slice.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn madd(self, a: [f32; 8], b: [f32; 8], c: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] * b[l] + c[l])
    }
    #[inline(always)]
    unsafe fn sum(self, v: [f32; 8]) -> f32 {
        v.iter().sum()
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Lanes;
    use std::arch::x86_64::*;

    /// Sixteen lanes of AVX-512 with fused multiply-add.
    #[derive(Clone, Copy)]
    pub struct Avx512(());

    /// Eight lanes of AVX2 with fused multiply-add.
    #[derive(Clone, Copy)]
    pub struct Avx2(());

    impl Avx512 {
        /// The token, when the processor has AVX-512.
        pub fn detect() -> Option<Avx512> {
            is_x86_feature_detected!("avx512f").then_some(Avx512(()))
        }
    }

    impl Avx2 {
        /// The token, when the processor has AVX2 and FMA.
        pub fn detect() -> Option<Avx2> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2(()))
        }
    }

    // SAFETY (every method below): an `Avx512` exists only where the processor has AVX-512;
    // pointers are the caller's to keep valid for 16 elements.
    impl Lanes for Avx512 {
        const L: usize = 16;
        type V = __m512;
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn zero(self) -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn splat(self, x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn load(self, p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn store(self, p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn madd(self, a: __m512, b: __m512, c: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn sum(self, v: __m512) -> f32 {
            let mut lanes = [0f32; 16];
            unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), v) };
            lanes.iter().sum()
        }
    }

    // SAFETY (every method below): an `Avx2` exists only where the processor has AVX2 and
    // FMA; pointers are the caller's to keep valid for 8 elements.
    impl Lanes for Avx2 {
        const L: usize = 8;
        type V = __m256;
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn zero(self) -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn splat(self, x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load(self, p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn store(self, p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn madd(self, a: __m256, b: __m256, c: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, c)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn sum(self, v: __m256) -> f32 {
            let mut lanes = [0f32; 8];
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), v) };
            lanes.iter().sum()
        }
    }
}

/// The widest lane count any implementation has: buffers the loops read leave this much slack.
pub const MAX_LANES: usize = 16;

/// Defines `$name(args)`, which runs `$kernel::<S>(s, args)` with the best [`Lanes`] this
/// processor has, compiled for that processor's features.
macro_rules! dispatch {
    ($name:ident, $kernel:ident, ($($arg:ident: $ty:ty),*)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512(s: $crate::nn::kernels::lanes::Avx512, $($arg: $ty),*) {
                    // SAFETY: as for the dispatching function; `s` proves the features.
                    unsafe { $kernel(s, $($arg),*) }
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2(s: $crate::nn::kernels::lanes::Avx2, $($arg: $ty),*) {
                    // SAFETY: as for the dispatching function; `s` proves the features.
                    unsafe { $kernel(s, $($arg),*) }
                }
                if let Some(s) = $crate::nn::kernels::lanes::Avx512::detect() {
                    // SAFETY: the token proves the features `avx512` is compiled for.
                    return unsafe { avx512(s, $($arg),*) };
                }
                if let Some(s) = $crate::nn::kernels::lanes::Avx2::detect() {
                    // SAFETY: the token proves the features `avx2` is compiled for.
                    return unsafe { avx2(s, $($arg),*) };
                }
            }
            // SAFETY: the portable lanes need no processor feature.
            unsafe { $kernel($crate::nn::kernels::lanes::Portable, $($arg),*) }
        }
    };
}

pub(super) use dispatch;
#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};
