//! Mutation of a decision sequence, for any environment: change one decision to another legal
//! option, then repair the rest — every later decision is kept where it is still legal and
//! redrawn uniformly where it is not, until the environment says the sequence is complete.

use archforge::error::Result;
use archforge::{Environment, Rng};
use rand::Rng as _;

/// `parent` with one decision changed (see the module documentation). A sequence in which no
/// choice has a second legal option comes back unchanged.
pub fn mutate_one(env: &dyn Environment, parent: &[usize], rng: &mut Rng) -> Result<Vec<usize>> {
    // The positions whose choice has another legal option, with that choice.
    let mut legal = Vec::new();
    let mut mutable = Vec::new();
    for position in 0..parent.len() {
        if let Some(choice) = env.next_choice(&parent[..position])? {
            choice.legal_into(&mut legal);
            if legal.is_empty() {
                archforge::env::legal_options(env, position, &choice)?;
            }
            if legal.iter().any(|&o| o != parent[position]) {
                mutable.push((position, choice));
            }
        }
    }
    if mutable.is_empty() {
        return Ok(parent.to_vec());
    }
    let (position, choice) = &mutable[rng.random_range(0..mutable.len())];
    choice.legal_into(&mut legal);
    legal.retain(|&o| o != parent[*position]);
    let mut child = Vec::with_capacity(parent.len());
    child.extend_from_slice(&parent[..*position]);
    child.push(legal[rng.random_range(0..legal.len())]);
    while let Some(choice) = env.next_choice(&child)? {
        let next = child.len();
        match parent.get(next) {
            Some(&kept) if choice.is_legal(kept) => child.push(kept),
            _ => {
                choice.legal_into(&mut legal);
                if legal.is_empty() {
                    archforge::env::legal_options(env, next, &choice)?;
                }
                child.push(legal[rng.random_range(0..legal.len())]);
            }
        }
    }
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use archforge::toy::Toy;

    #[test]
    fn mutation_changes_exactly_one_decision_and_stays_legal() {
        let toy = Toy::new(6, 3).unwrap();
        let mut rng = archforge::rng::seeded(1);
        let parent = vec![2, 0, 2, 1, 0, 0];
        for _ in 0..200 {
            let child = mutate_one(&toy, &parent, &mut rng).unwrap();
            archforge::env::validate(&toy, &child).unwrap();
            assert_eq!(child.iter().zip(&parent).filter(|(a, b)| a != b).count(), 1);
        }
    }
}
