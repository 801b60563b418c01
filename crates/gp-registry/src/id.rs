//! Row ids: 32 hex characters, the first 12 the time in milliseconds, the
//! other 20 random (80 bits).
//!
//! Every registry table is keyed by its id, and a journal row's action id
//! is indexed. Ids made one after the other sort one after the other, so a
//! batch of rows lands at the end of those indexes: a commit writes the
//! few pages at the index's edge, not one page per row scattered over the
//! whole index (with wholly random ids, a deploy of 2,000 journal rows
//! wrote a thousand index pages more per commit than its rows needed).
//! The random part comes from the OS in blocks, not one system call per
//! id.

use std::cell::RefCell;

/// Random bytes drawn from the OS at once: ids for this many rows.
const IDS_PER_DRAW: usize = 256;
const RANDOM_BYTES: usize = 10;

struct Pool {
    bytes: [u8; IDS_PER_DRAW * RANDOM_BYTES],
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            bytes: [0; IDS_PER_DRAW * RANDOM_BYTES],
            used: IDS_PER_DRAW,
        })
    };
}

/// A fresh id: the time in milliseconds (12 hex characters), then 80
/// random bits (20).
pub fn new_id() -> String {
    id_at(crate::time::now_us() / 1000, &random_part())
}

/// The id of the time `ms` with `random` as its last 20 characters.
fn id_at(ms: i64, random: &[u8; RANDOM_BYTES]) -> String {
    // 48 bits of milliseconds last until the year 10889; earlier than the
    // epoch (a clock set wrong) counts as the epoch.
    let ms = u64::try_from(ms).unwrap_or(0) & 0xffff_ffff_ffff;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6..].copy_from_slice(random);
    crate::chain::hex(&b)
}

fn random_part() -> [u8; RANDOM_BYTES] {
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.used == IDS_PER_DRAW {
            if getrandom::fill(&mut pool.bytes).is_err() {
                // The OS RNG failing is near impossible; the time, the
                // process and the thread still make the ids of this draw
                // unique enough for row ids.
                fallback(&mut pool.bytes);
            }
            pool.used = 0;
        }
        let at = pool.used * RANDOM_BYTES;
        pool.used += 1;
        let mut out = [0u8; RANDOM_BYTES];
        out.copy_from_slice(&pool.bytes[at..at + RANDOM_BYTES]);
        out
    })
}

fn fallback(bytes: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    let state = std::collections::hash_map::RandomState::new();
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_i64(crate::time::now_us());
        h.write_u32(std::process::id());
        h.write_usize(i);
        let v = h.finish().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_32_lowercase_hex_characters() {
        for _ in 0..3 * IDS_PER_DRAW {
            let id = new_id();
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{id}"
            );
        }
    }

    #[test]
    fn an_id_begins_with_its_time_in_milliseconds() {
        let before = crate::time::now_us() / 1000;
        let id = new_id();
        let after = crate::time::now_us() / 1000;
        let ms = i64::from_str_radix(&id[..12], 16).unwrap();
        assert!((before..=after).contains(&ms), "{before} {ms} {after}");
    }

    #[test]
    fn ids_of_later_times_sort_after_earlier_ones_whatever_their_random_part() {
        let low = [0xff; RANDOM_BYTES];
        let high = [0x00; RANDOM_BYTES];
        assert!(id_at(1_000, &low) < id_at(1_001, &high));
        assert!(id_at(0xff, &low) < id_at(0x100, &high));
        // A time before the epoch is the epoch; one past 48 bits wraps
        // rather than growing the id.
        assert_eq!(id_at(-5, &high), id_at(0, &high));
        assert_eq!(id_at(1 << 48, &high).len(), 32);
    }

    #[test]
    fn ids_are_unique_across_draws_and_threads() {
        let ids: Vec<String> = std::thread::scope(|s| {
            let hands: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..5 * IDS_PER_DRAW + 3)
                            .map(|_| new_id())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            hands.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let distinct: std::collections::HashSet<&str> = ids.iter().map(|s| &s[12..]).collect();
        assert_eq!(distinct.len(), ids.len(), "a random part repeated");
    }

    #[test]
    fn the_random_parts_of_one_draw_are_consecutive_slices_of_it() {
        // A thread of its own: its pool is fresh, so the first part starts
        // a draw. Each id takes the next 10 bytes of it; none is handed out
        // twice and no two overlap.
        std::thread::spawn(|| {
            let parts: Vec<[u8; RANDOM_BYTES]> = (0..IDS_PER_DRAW).map(|_| random_part()).collect();
            let drawn = POOL.with(|p| p.borrow().bytes);
            assert_eq!(parts.concat(), drawn.to_vec());
            // The next part is a new draw.
            let next = random_part();
            assert_ne!(POOL.with(|p| p.borrow().bytes), drawn);
            assert_eq!(next[..], POOL.with(|p| p.borrow().bytes)[..RANDOM_BYTES]);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_fallback_fills_every_byte_differently_by_position() {
        let mut a = [0u8; IDS_PER_DRAW * RANDOM_BYTES];
        fallback(&mut a);
        let parts: std::collections::HashSet<&[u8]> = a.chunks(RANDOM_BYTES).collect();
        assert_eq!(parts.len(), IDS_PER_DRAW, "the fallback repeated a part");
    }
}
