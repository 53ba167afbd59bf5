//! Random streams and the samplers that shape the data.
//!
//! # Random streams
//!
//! All randomness comes from [`Xoshiro256PlusPlus`] generators derived from the user's seed
//! with `seed_from_u64`. Work is cut into fixed chunks; chunk `i` draws from that generator
//! advanced by `i` [jumps](Xoshiro256PlusPlus::jump) of 2^128 steps, and the dimension tables
//! from streams [long-jumped](Xoshiro256PlusPlus::long_jump) 2^192 steps away. The streams
//! never overlap, and what a chunk draws does not depend on which thread runs it or when.
//!
//! # Samplers
//!
//! The hot loop draws five `u64`s per transaction, so every sampler turns one `u64` into a
//! value in O(1) without allocating:
//!
//! * [`AliasTable`]: Walker/Vose alias method over arbitrary weights (Zipf–Mandelbrot for
//!   products and stores). One multiply splits the `u64` into a slot index (high half) and a uniform
//!   fraction (low half) compared against the slot's threshold.
//! * [`LookupTable`]: a 1,024-slot table for small categorical choices (quantity, payment
//!   type); it consumes 10 bits, so several choices share one `u64`.
//! * [`SkewedIds`]: closed-form mild skew towards low ids (older customers shop more).
//! * [`DayShape`]: turns a quantile of the day into a time of day following shop hours.

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

pub(crate) use rand_xoshiro::rand_core::Rng;

/// The generator every stream uses.
pub(crate) type DemoRng = Xoshiro256PlusPlus;

/// The random streams of the dimension tables.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DimensionStream {
    Stores = 0,
    Products = 1,
    Customers = 2,
}

/// The generator of one dimension table: the seed's stream long-jumped `stream + 1` times.
pub(crate) fn dimension_rng(seed: u64, stream: DimensionStream) -> DemoRng {
    let mut rng = DemoRng::seed_from_u64(seed);
    for _ in 0..=stream as u32 {
        rng.long_jump();
    }
    rng
}

/// The generators of fact chunks, in chunk order: chunk `i` gets the seed's stream jumped
/// `i` times.
#[derive(Debug, Clone)]
pub(crate) struct ChunkStreams {
    next: DemoRng,
}

impl ChunkStreams {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            next: DemoRng::seed_from_u64(seed),
        }
    }

    /// The generator of the next chunk.
    pub(crate) fn next_stream(&mut self) -> DemoRng {
        let stream = self.next.clone();
        self.next.jump();
        stream
    }
}

/// A uniform `f64` in `[0, 1)` from the top 53 bits of `bits`.
#[inline]
pub(crate) fn unit_f64(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` from `bits` (multiply-shift; the bias is below `n / 2^64`).
#[inline]
pub(crate) fn below(bits: u64, n: u64) -> u64 {
    ((u128::from(bits) * u128::from(n)) >> 64) as u64
}

/// Shuffles `items` in place (Fisher-Yates).
pub(crate) fn shuffle<T>(items: &mut [T], rng: &mut DemoRng) {
    for i in (1..items.len()).rev() {
        let j = below(rng.next_u64(), i as u64 + 1) as usize;
        items.swap(i, j);
    }
}

/// Zipf–Mandelbrot weights `1 / (k + offset)^exponent` for ranks `k = 1..=n`. An offset
/// above 0 flattens the head (the best seller is not a fifth of all sales) and keeps the
/// heavy tail.
pub(crate) fn zipf_weights(n: usize, exponent: f64, offset: f64) -> Vec<f64> {
    (1..=n)
        .map(|rank| (rank as f64 + offset).powf(-exponent))
        .collect()
}

/// One slot of an [`AliasTable`]: keep `keep` if the fraction is below `threshold`.
#[derive(Debug, Clone, Copy)]
struct AliasSlot {
    threshold: u64,
    keep: u32,
    alias: u32,
}

/// Samples `values[i]` with probability proportional to `weights[i]` in O(1).
#[derive(Debug, Clone)]
pub(crate) struct AliasTable {
    slots: Vec<AliasSlot>,
}

impl AliasTable {
    /// Builds the table with Vose's method. `weights` and `values` have the same, non-zero
    /// length and the weights are positive.
    pub(crate) fn new(weights: &[f64], values: &[u32]) -> Self {
        debug_assert!(!weights.is_empty() && weights.len() == values.len());
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut slots: Vec<AliasSlot> = values
            .iter()
            .map(|&value| AliasSlot {
                threshold: u64::MAX,
                keep: value,
                alias: value,
            })
            .collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            slots[s].threshold = fraction_threshold(scaled[s]);
            slots[s].alias = values[l];
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left has probability 1 up to rounding and keeps its own value.
        Self { slots }
    }

    /// Draws one value.
    #[inline]
    pub(crate) fn sample(&self, bits: u64) -> u32 {
        let wide = u128::from(bits) * self.slots.len() as u128;
        let slot = &self.slots[(wide >> 64) as usize];
        if (wide as u64) < slot.threshold {
            slot.keep
        } else {
            slot.alias
        }
    }
}

fn fraction_threshold(probability: f64) -> u64 {
    if probability >= 1.0 {
        u64::MAX
    } else {
        // The cast saturates; 2^64 * p fits for p in [0, 1).
        (probability * 18_446_744_073_709_551_616.0) as u64
    }
}

/// Number of bits a [`LookupTable`] consumes.
pub(crate) const LOOKUP_BITS: u32 = 10;
const LOOKUP_SLOTS: usize = 1 << LOOKUP_BITS;

/// A small categorical distribution as a 1,024-slot table, exact to 1/1,024.
#[derive(Debug, Clone)]
pub(crate) struct LookupTable<T> {
    slots: [T; LOOKUP_SLOTS],
}

impl<T: Copy> LookupTable<T> {
    /// Builds the table from `(value, weight)` pairs; the weights need not sum to anything in
    /// particular but must not all be zero.
    pub(crate) fn new(choices: &[(T, u32)]) -> Self {
        let total: u64 = choices.iter().map(|&(_, w)| u64::from(w)).sum();
        let mut cumulative = Vec::with_capacity(choices.len());
        let mut running = 0u64;
        for &(value, weight) in choices {
            running += u64::from(weight);
            cumulative.push((running, value));
        }
        let slots = std::array::from_fn(|slot| {
            // The midpoint of the slot, scaled to the weights' total.
            let target = (2 * slot as u64 + 1) * total / (2 * LOOKUP_SLOTS as u64);
            let index = cumulative.partition_point(|&(upto, _)| upto <= target);
            cumulative[index.min(cumulative.len() - 1)].1
        });
        Self { slots }
    }

    /// Draws one value from the low [`LOOKUP_BITS`] bits of `bits`.
    #[inline]
    pub(crate) fn pick(&self, bits: u64) -> T {
        self.slots[(bits as usize) & (LOOKUP_SLOTS - 1)]
    }
}

/// Ids `1..=n` skewed mildly towards low ids: `id = 1 + floor(n * u^1.5)`, so the density
/// falls like `x^(-1/3)` and the lowest 1% of ids draw about 4.6% of the picks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SkewedIds {
    n: u64,
}

impl SkewedIds {
    pub(crate) fn new(n: u64) -> Self {
        Self { n }
    }

    #[inline]
    pub(crate) fn sample(&self, bits: u64) -> u64 {
        let u = unit_f64(bits);
        let x = u * u.sqrt();
        ((self.n as f64 * x) as u64).min(self.n - 1) + 1
    }
}

/// The share of a day's transactions by hour: a store opening at 7:00, a lunch bump, an
/// after-work peak around 18:00, and a trickle of online orders through the night.
const HOURLY_WEIGHTS: [f64; 24] = [
    0.4, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3.5, 5.0, 6.0, 6.5, 7.5, 8.5, 7.5, 6.5, 6.5, 7.0, 8.5, 9.0,
    8.0, 6.0, 4.0, 2.0, 1.0,
];

/// The time-of-day distribution, as the cumulative share at each hour boundary.
///
/// Transactions are stratified over the day: row `j` of a day with `n` rows gets the time at
/// quantile `(j + u) / n`, `u` uniform in `[0, 1)`. Times therefore rise with the transaction
/// id, across the part files of a day too, and follow the hourly shape exactly.
#[derive(Debug, Clone)]
pub(crate) struct DayShape {
    cumulative: [f64; 25],
}

impl DayShape {
    pub(crate) fn new() -> Self {
        let total: f64 = HOURLY_WEIGHTS.iter().sum();
        let mut cumulative = [0.0; 25];
        for hour in 0..24 {
            cumulative[hour + 1] = cumulative[hour] + HOURLY_WEIGHTS[hour] / total;
        }
        cumulative[24] = 1.0;
        Self { cumulative }
    }

    /// Microseconds after midnight at `quantile` in `[0, 1)`. `hour` is a cursor that callers
    /// keep between calls with rising quantiles, so the search is amortised O(1).
    #[inline]
    pub(crate) fn micros_at(&self, quantile: f64, hour: &mut usize) -> i64 {
        while *hour < 23 && quantile >= self.cumulative[*hour + 1] {
            *hour += 1;
        }
        let (low, high) = (self.cumulative[*hour], self.cumulative[*hour + 1]);
        let within = ((quantile - low) / (high - low)).clamp(0.0, 1.0);
        let micros = (*hour as f64 + within) * 3_600_000_000.0;
        (micros as i64).min(crate::calendar::MICROS_PER_DAY - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_follows_weights() {
        let weights = [1.0, 2.0, 3.0, 4.0];
        let table = AliasTable::new(&weights, &[10, 20, 30, 40]);
        let mut rng = DemoRng::seed_from_u64(7);
        let mut counts = [0u32; 4];
        let draws = 200_000;
        for _ in 0..draws {
            counts[(table.sample(rng.next_u64()) / 10 - 1) as usize] += 1;
        }
        for (count, weight) in counts.iter().zip(weights) {
            let share = f64::from(*count) / f64::from(draws);
            assert!((share - weight / 10.0).abs() < 0.01, "{counts:?}");
        }
    }

    #[test]
    fn zipf_top_percent_carries_volume() {
        let n = 1_000;
        let ids: Vec<u32> = (1..=n).collect();
        let table = AliasTable::new(&zipf_weights(n as usize, 1.1, 2.0), &ids);
        let mut rng = DemoRng::seed_from_u64(1);
        let draws = 100_000;
        let top = (0..draws)
            .filter(|_| table.sample(rng.next_u64()) <= n / 100)
            .count();
        assert!(
            top as f64 / draws as f64 > 0.3,
            "top 1% drew {top} of {draws}"
        );
    }

    #[test]
    fn lookup_table_is_exact_for_power_of_two_weights() {
        let table = LookupTable::new(&[('a', 768), ('b', 0), ('c', 256)]);
        let picks: Vec<char> = (0..1024u64).map(|bits| table.pick(bits)).collect();
        assert_eq!(picks.iter().filter(|&&c| c == 'a').count(), 768);
        assert_eq!(picks.iter().filter(|&&c| c == 'b').count(), 0);
        assert_eq!(picks.iter().filter(|&&c| c == 'c').count(), 256);
    }

    #[test]
    fn skewed_ids_stay_in_range() {
        let ids = SkewedIds::new(1_000);
        assert_eq!(ids.sample(0), 1);
        assert_eq!(ids.sample(u64::MAX), 1_000);
        let mut rng = DemoRng::seed_from_u64(3);
        assert!((0..10_000).all(|_| (1..=1_000).contains(&ids.sample(rng.next_u64()))));
    }

    #[test]
    fn day_shape_is_monotone_and_bounded() {
        let shape = DayShape::new();
        let mut hour = 0;
        let mut last = -1;
        for step in 0..10_000 {
            let micros = shape.micros_at(f64::from(step) / 10_000.0, &mut hour);
            assert!(micros >= last && micros < crate::calendar::MICROS_PER_DAY);
            last = micros;
        }
    }

    #[test]
    fn streams_differ() {
        let mut streams = ChunkStreams::new(42);
        let mut chunks = [streams.next_stream(), streams.next_stream()];
        let mut stores = dimension_rng(42, DimensionStream::Stores);
        let mut products = dimension_rng(42, DimensionStream::Products);
        let firsts = [
            chunks[0].next_u64(),
            chunks[1].next_u64(),
            stores.next_u64(),
            products.next_u64(),
        ];
        for i in 0..firsts.len() {
            for j in i + 1..firsts.len() {
                assert_ne!(firsts[i], firsts[j]);
            }
        }
    }
}
