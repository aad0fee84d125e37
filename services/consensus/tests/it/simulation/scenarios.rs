//! Named scenarios: each proves one behaviour a validator operator relies on.

use coinjecture_consensus::{
    Action, Engine, EngineConfig, Input, LockState, Message, QuorumMode, SignState, SignStep, ValidatorSchedule,
    ValidatorSet,
};
use coinjecture_crypto_core::signatures::Keypair;
use coinjecture_primitives::consensus::{Proposal, VoteType};
use coinjecture_primitives::{
    Block, BlockHeader, ChainId, Hash32, Height, PoaExtra, Round, Signature, UnixMillis, sha256,
};

use super::harness::{EventSpec, NetParams, Sim};
use super::{SEC, perfect_net};

#[test]
fn three_validators_finalize_a_block_every_block_time() {
    let mut sim = Sim::new(1, 3, QuorumMode::Crash, perfect_net());
    let start = sim.now;
    sim.run_until(start + 30 * SEC);
    let heights = sim.heights();
    // 1 s blocks over 30 s: about 30 blocks (the first waits one block time).
    assert!(heights.iter().all(|h| (26..=31).contains(h)), "{heights:?}");
    // Blocks are spaced by the block time.
    let chain = &sim.nodes[0].chain;
    for pair in chain.windows(2) {
        let gap = pair[1].0.header.timestamp_ms().millis_since(pair[0].0.header.timestamp_ms());
        assert!((1000..1200).contains(&gap), "gap {gap} ms");
    }
}

#[test]
fn an_offline_validator_costs_a_timeout_not_a_halt() {
    let mut sim = Sim::new(2, 3, QuorumMode::Crash, perfect_net());
    let start = sim.now;
    sim.schedule(start, EventSpec::Crash(1));
    sim.run_until(start + 30 * SEC);
    let h = sim.heights();
    assert_eq!(h[1], 0);
    // Every third slot belongs to the dead validator and costs one propose timeout (2 s).
    assert!(h[0] >= 12 && h[0] == h[2], "{h:?}");
}

#[test]
fn a_crashed_validator_restarts_and_catches_up() {
    let mut sim = Sim::new(3, 3, QuorumMode::Crash, perfect_net());
    let start = sim.now;
    sim.schedule(start + 5 * SEC, EventSpec::Crash(2));
    sim.schedule(start + 15 * SEC, EventSpec::Restart(2));
    sim.run_until(start + 25 * SEC);
    let h = sim.heights();
    assert!(h[2] + 1 >= h[0] && h[0] >= 18, "{h:?}");
    assert_eq!(sim.nodes[2].chain.last().map(|b| b.0.hash()), sim.nodes[2].chain.last().map(|b| b.0.hash()));
}

#[test]
fn a_minority_partition_stalls_and_the_majority_continues_then_all_converge() {
    let mut sim = Sim::new(4, 3, QuorumMode::Crash, perfect_net());
    let start = sim.now;
    sim.run_until(start + 5 * SEC);
    let before = sim.heights();
    sim.schedule(sim.now, EventSpec::Partition(vec![0, 0, 1]));
    sim.run_until(start + 15 * SEC);
    let during = sim.heights();
    assert!(during[2] <= before[2] + 1, "minority must stall: {before:?} -> {during:?}");
    // Every third slot is the cut-off validator's: it costs a propose timeout, the others a block time.
    assert!(during[0] >= before[0] + 4, "majority continues: {before:?} -> {during:?}");
    sim.schedule(sim.now, EventSpec::Heal);
    sim.run_until(start + 25 * SEC);
    let after = sim.heights();
    assert!(after[2] + 1 >= after[0], "converged: {after:?}");
    for h in 1..=after.iter().copied().min().unwrap_or(0) as usize {
        let hashes: Vec<Hash32> = sim.nodes.iter().map(|n| n.chain[h - 1].0.hash()).collect();
        assert!(hashes.windows(2).all(|w| w[0] == w[1]), "height {h} differs");
    }
}

#[test]
fn an_even_split_of_four_in_byzantine_mode_halts_safely_and_resumes() {
    let mut sim = Sim::new(5, 4, QuorumMode::Byzantine, perfect_net());
    let start = sim.now;
    sim.run_until(start + 5 * SEC);
    sim.schedule(sim.now, EventSpec::Partition(vec![0, 0, 1, 1]));
    let before = sim.heights();
    sim.run_until(start + 15 * SEC);
    let during = sim.heights();
    // Quorum is 3 of 4: neither half can finalize (at most the block in flight).
    for i in 0..4 {
        assert!(during[i] <= before.iter().max().unwrap() + 1, "{before:?} -> {during:?}");
    }
    sim.schedule(sim.now, EventSpec::Heal);
    sim.run_until(start + 60 * SEC);
    let after = sim.heights();
    assert!(after.iter().all(|h| *h >= during.iter().max().unwrap() + 3), "resumed without an operator: {after:?}");
}

#[test]
fn an_equivocating_validator_is_recorded_and_cannot_break_safety() {
    let mut sim = Sim::new(6, 4, QuorumMode::Byzantine, perfect_net());
    sim.nodes[3].equivocates = true;
    let start = sim.now;
    sim.run_until(start + 20 * SEC);
    assert!(!sim.evidence.is_empty(), "equivocation is detected");
    assert_eq!(sim.report().evidence.len(), sim.evidence.len());
    let h = sim.heights();
    assert!(h[0] >= 10, "{h:?}");
}

#[test]
fn a_validator_set_change_takes_effect_without_a_halt() {
    let seeds: Vec<[u8; 32]> = (0..4).map(|i| sha256(format!("sim validator {i}").as_bytes()).0).collect();
    let keys: Vec<_> = seeds.iter().map(|s| Keypair::from_seed(s).public_key()).collect();
    let old = ValidatorSet::new(keys[..3].to_vec(), QuorumMode::Crash).unwrap();
    let new = ValidatorSet::new(keys[1..].to_vec(), QuorumMode::Crash).unwrap();
    let schedule = ValidatorSchedule::new(vec![(Height(1), old), (Height(8), new)]).unwrap();
    let mut sim = Sim::with_schedule(7, seeds, schedule, perfect_net());
    let start = sim.now;
    // Validator 0 leaves after height 7 and is switched off a bit later.
    sim.schedule(start + 12 * SEC, EventSpec::Crash(0));
    sim.run_until(start + 25 * SEC);
    let h = sim.heights();
    assert!(h[1] >= 20 && h[3] >= 20, "{h:?}");
    let signers_at =
        |height: usize| -> Vec<_> { sim.nodes[1].chain[height - 1].1.signatures.iter().map(|s| s.0).collect() };
    assert!(signers_at(15).iter().all(|k| *k != keys[0]), "the removed validator signs nothing after the cutover");
    assert!(signers_at(15).contains(&keys[3]) || sim.nodes[1].chain[14].1.signatures.len() >= 2);
}

#[test]
fn lossy_network_with_reordering_and_duplicates_still_makes_progress() {
    let net = NetParams { drop: 0.2, duplicate: 0.2, min_delay_ms: 1, max_delay_ms: 600 };
    let mut sim = Sim::new(8, 5, QuorumMode::Byzantine, net);
    let start = sim.now;
    sim.run_until(start + 60 * SEC);
    assert!(sim.heights().iter().all(|h| *h >= 10), "{:?}", sim.heights());
}

fn chain() -> ChainId {
    ChainId::new("coinjecture-sim").unwrap()
}

fn block(height: u64, proposer: &Keypair, salt: u8) -> Block {
    let extra = PoaExtra { round: Round(0), timestamp_millis: 0, state_commitment: Hash32([salt; 32]), chain_id: None };
    Block {
        header: BlockHeader {
            codec_version: 1,
            block_index: Height(height),
            // The engines of these scenarios run at times 0..10 s: a block stamped at 1 s.
            timestamp: 1,
            miner_address: proposer.public_key(),
            extra_data: extra.encode(),
            ..Default::default()
        },
        transactions: Vec::new(),
    }
}

/// A fresh proposal (no proof-of-lock round) of `block` at its height and `round`, signed by
/// `proposer`.
fn signed_proposal(proposer: &Keypair, round: u32, timestamp_ms: i64, block: Block) -> Proposal {
    let mut proposal = Proposal {
        chain_id: chain(),
        height: block.header.block_index,
        round: Round(round),
        pol_round: None,
        timestamp_ms: UnixMillis(timestamp_ms),
        block,
        proposer: proposer.public_key(),
        signature: Signature::ZERO,
    };
    proposal.signature = proposer.sign(&proposal.signing_bytes());
    proposal
}

#[test]
fn a_restarted_validator_never_signs_a_conflicting_vote() {
    let keys: Vec<Keypair> = (0u8..3).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Crash).unwrap();
    let proposer_index = set.validators().iter().position(|k| *k == set.proposer(Height(1), Round(0))).unwrap();
    let me = (proposer_index + 1) % 3;
    let config = EngineConfig::with_block_time(chain(), 1000);
    let schedule = ValidatorSchedule::fixed(set);

    // Before the crash it prevoted block A at (1, 0) and persisted that.
    let a = block(1, &keys[proposer_index], 0xaa);
    let vote_a = coinjecture_primitives::consensus::vote_signing_bytes(
        &chain(),
        Height(1),
        Round(0),
        VoteType::Prevote,
        Some(&a.hash()),
    );
    let persisted = SignState::after(Height(1), Round(0), SignStep::Prevote, &vote_a, keys[me].sign(&vote_a));

    // After the restart a (Byzantine) proposer shows it block B for the same round.
    let mut engine = Engine::new(
        config,
        schedule,
        Keypair::from_seed(&[me as u8 + 1; 32]),
        Height(1),
        UnixMillis(0),
        Some(persisted),
    );
    engine.handle(UnixMillis(10), Input::Start);
    let b = block(1, &keys[proposer_index], 0xbb);
    let proposal = signed_proposal(&keys[proposer_index], 0, 10, b.clone());
    let mut actions = engine.handle(UnixMillis(20), Input::Proposal(proposal));
    actions.extend(engine.handle(UnixMillis(30), Input::BlockValidity { block_hash: b.hash(), valid: true }));
    let signed_b = actions.iter().any(|a| {
        matches!(a, Action::Broadcast(Message::Vote(v)) if v.round == Round(0) && v.vote_type == VoteType::Prevote && v.block_hash == Some(b.hash()))
    });
    assert!(!signed_b, "signed a second, conflicting prevote after restart: {actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::PersistSignState(_))));
}

#[test]
fn bad_consensus_input_is_dropped_with_a_counted_reason_and_never_stalls() {
    use coinjecture_consensus::DropReason;
    use coinjecture_primitives::consensus::Vote;

    let keys: Vec<Keypair> = (0u8..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
    let mut engine = Engine::new(
        EngineConfig::with_block_time(chain(), 1000),
        ValidatorSchedule::fixed(set),
        Keypair::from_seed(&[1; 32]),
        Height(1),
        UnixMillis(0),
        None,
    );
    engine.handle(UnixMillis(0), Input::Start);
    let signed = |key: &Keypair, height: u64, round: u32, chain_id: ChainId| {
        let mut v = Vote {
            chain_id,
            height: Height(height),
            round: Round(round),
            vote_type: VoteType::Prevote,
            block_hash: None,
            validator: key.public_key(),
            signature: Signature::ZERO,
        };
        v.signature = key.sign(&v.signing_bytes());
        v
    };
    let dropped = |actions: Vec<Action>| -> Vec<DropReason> {
        actions.into_iter().filter_map(|a| if let Action::Dropped(r) = a { Some(r) } else { None }).collect()
    };

    let mut forged = signed(&keys[1], 1, 0, chain());
    forged.signature.0[0] ^= 1;
    assert_eq!(dropped(engine.handle(UnixMillis(1), Input::Vote(forged))), vec![DropReason::BadSignature]);
    let outsider = Keypair::from_seed(&[99; 32]);
    assert_eq!(
        dropped(engine.handle(UnixMillis(2), Input::Vote(signed(&outsider, 1, 0, chain())))),
        vec![DropReason::NotAValidator]
    );
    let other_chain = ChainId::new("coinjecture-other").unwrap();
    assert_eq!(
        dropped(engine.handle(UnixMillis(3), Input::Vote(signed(&keys[1], 1, 0, other_chain)))),
        vec![DropReason::WrongChain]
    );
    assert_eq!(
        dropped(engine.handle(UnixMillis(4), Input::Vote(signed(&keys[1], 1, 10_000, chain())))),
        vec![DropReason::RoundTooFarAhead]
    );
    assert_eq!(
        dropped(engine.handle(UnixMillis(5), Input::Vote(signed(&keys[1], 1_000_000, 0, chain())))),
        vec![DropReason::FutureHeightBufferFull]
    );
    let vote = signed(&keys[2], 1, 0, chain());
    assert!(dropped(engine.handle(UnixMillis(6), Input::Vote(vote.clone()))).is_empty());
    // An identical copy is a duplicate (not verified again); a copy with a damaged signature is
    // not identical, so it is still checked, and refused.
    let mut damaged = vote.clone();
    damaged.signature.0[5] ^= 1;
    assert_eq!(dropped(engine.handle(UnixMillis(7), Input::Vote(vote))), vec![DropReason::Duplicate]);
    assert_eq!(dropped(engine.handle(UnixMillis(7), Input::Vote(damaged))), vec![DropReason::BadSignature]);
    // A proposal from the wrong proposer.
    let wrong = keys.iter().find(|k| k.public_key() != engine.validator_set().proposer(Height(1), Round(0))).unwrap();
    let p = signed_proposal(wrong, 0, 8, block(1, wrong, 1));
    assert_eq!(dropped(engine.handle(UnixMillis(8), Input::Proposal(p))), vec![DropReason::WrongProposer]);
    // None of it moved the engine off height 1, round 0, and it still times out normally.
    assert_eq!((engine.height(), engine.round()), (Height(1), Round(0)));
}

#[test]
fn the_whole_network_stopped_mid_round_and_restarted_resumes() {
    // Every validator stops at the same moment — at many different moments of a round — and all
    // restart a second later with their signing state but nothing else: the votes that were on
    // the wire are gone. They must go on finalizing without an operator.
    // With the locks persisted, moments right after a lock and before its commit restart with
    // every validator locked and nobody else holding the block: the locked proposer re-proposes
    // it with its proof of lock. The simulator's oracle checks no height is decided twice.
    let runs = (0..1_000).step_by(10).map(|t| (3, QuorumMode::Crash, t));
    let runs = runs.chain((0..1_000).step_by(25).map(|t| (4, QuorumMode::Byzantine, t)));
    for (n, mode, offset_ms) in runs {
        let mut sim = Sim::new(9, n, mode, perfect_net());
        let start = sim.now;
        sim.run_until(start + 5 * SEC + offset_ms);
        for i in 0..n {
            sim.schedule(sim.now, EventSpec::Crash(i));
            sim.schedule(sim.now + SEC, EventSpec::Restart(i));
        }
        sim.run_until(sim.now + 2 * SEC);
        let before = sim.heights();
        sim.run_until(sim.now + 20 * SEC);
        let after = sim.heights();
        assert!(
            after.iter().zip(&before).all(|(a, b)| *a >= b + 5),
            "{n} validators ({mode:?}) stopped {offset_ms} ms into second 5: stuck at {before:?} -> {after:?}"
        );
    }
}

/// Validator `me` of 4 (byzantine quorum 3) sees block B proposed at (1, 0), and prevotes for it
/// from two others: it locks on B and precommits. Returns the engine's signing state and the
/// lock it asked to persist (checked to come before the precommit leaves).
fn lock_on_block(keys: &[Keypair], schedule: &ValidatorSchedule, me: usize, b: &Block) -> (SignState, LockState) {
    use coinjecture_primitives::consensus::{Vote, vote_signing_bytes};
    let set = schedule.at(Height(1));
    let p0 = keys.iter().position(|k| k.public_key() == set.proposer(Height(1), Round(0))).unwrap();
    let config = EngineConfig::with_block_time(chain(), 1000);
    let mut engine =
        Engine::new(config, schedule.clone(), Keypair::from_seed(&[me as u8 + 1; 32]), Height(1), UnixMillis(0), None);
    engine.handle(UnixMillis(0), Input::Start);
    let proposal = signed_proposal(&keys[p0], 0, 1000, b.clone());
    let mut actions = Vec::new();
    if me != p0 {
        engine.handle(UnixMillis(1000), Input::Proposal(proposal));
        engine.handle(UnixMillis(1001), Input::BlockValidity { block_hash: b.hash(), valid: true });
    }
    for other in (0..keys.len()).filter(|i| *i != me).take(2) {
        let bytes = vote_signing_bytes(&chain(), Height(1), Round(0), VoteType::Prevote, Some(&b.hash()));
        let vote = Vote {
            chain_id: chain(),
            height: Height(1),
            round: Round(0),
            vote_type: VoteType::Prevote,
            block_hash: Some(b.hash()),
            validator: keys[other].public_key(),
            signature: keys[other].sign(&bytes),
        };
        actions.extend(engine.handle(UnixMillis(1002), Input::Vote(vote)));
    }
    assert_eq!(engine.locked(), Some((Round(0), b.hash())), "did not lock: {actions:?}");
    let lock_at = actions.iter().position(|a| matches!(a, Action::PersistLock(_))).expect("no PersistLock");
    let precommit_at = actions
        .iter()
        .position(|a| matches!(a, Action::Broadcast(Message::Vote(v)) if v.vote_type == VoteType::Precommit))
        .expect("no precommit");
    assert!(lock_at < precommit_at, "the precommit left before the lock was persisted: {actions:?}");
    let Some(Action::PersistLock(lock)) = actions.into_iter().nth(lock_at) else { unreachable!() };
    assert_eq!((lock.height, lock.round, lock.block.hash()), (Height(1), Round(0), b.hash()));
    assert_eq!(lock.prevotes.len(), 3, "the proof of lock is the quorum of prevotes");
    (engine.sign_state().cloned().unwrap(), *lock)
}

#[test]
fn a_validator_restarted_after_locking_stays_locked() {
    // The safety hole this closes: validator X precommitted B (and some validator may have
    // committed it); X restarts, forgets its lock, and prevotes a fresh block B' in the next round.
    // With a quorum of validators doing that, B' is decided at the same height: a fork.
    let keys: Vec<Keypair> = (0u8..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
    let index = |k| keys.iter().position(|key| key.public_key() == k).unwrap();
    let (p0, p1) = (index(set.proposer(Height(1), Round(0))), index(set.proposer(Height(1), Round(1))));
    let me = (0..4).find(|i| *i != p0 && *i != p1).unwrap();
    let schedule = ValidatorSchedule::fixed(set);
    let b = block(1, &keys[p0], 0xb0);
    let (sign_state, lock) = lock_on_block(&keys, &schedule, me, &b);

    // After the restart the proposer of round 1 offers a fresh block B'.
    let b2 = block(1, &keys[p1], 0xb2);
    let fresh = signed_proposal(&keys[p1], 1, 5000, b2.clone());
    let prevote_in_round_1 = |restore: bool| {
        let config = EngineConfig::with_block_time(chain(), 1000);
        let mut engine = Engine::new(
            config,
            schedule.clone(),
            Keypair::from_seed(&[me as u8 + 1; 32]),
            Height(1),
            UnixMillis(0),
            Some(sign_state.clone()),
        );
        if restore {
            assert!(engine.restore_lock(lock.clone()));
        }
        let mut actions = engine.handle(UnixMillis(5000), Input::Start);
        assert_eq!(engine.round(), Round(1), "resumes after the round it last signed in");
        actions.extend(engine.handle(UnixMillis(5001), Input::Proposal(fresh.clone())));
        actions.extend(engine.handle(UnixMillis(5002), Input::BlockValidity { block_hash: b2.hash(), valid: true }));
        actions.iter().find_map(|a| match a {
            Action::Broadcast(Message::Vote(v)) if v.round == Round(1) && v.vote_type == VoteType::Prevote => {
                Some(v.block_hash)
            }
            _ => None,
        })
    };
    assert_eq!(prevote_in_round_1(true), Some(None), "a locked validator prevotes nil for another block");
    // Without the persisted lock the same validator would vote for B' (what this used to do).
    assert_eq!(prevote_in_round_1(false), Some(Some(b2.hash())));
}

#[test]
fn a_restarted_locked_proposer_re_proposes_its_block_with_the_proof_of_lock() {
    // The whole network stopped right after locking: nobody else holds B any more, so the
    // proposer of the resumed round must bring it back, with the prevotes that justify it.
    let keys: Vec<Keypair> = (0u8..4).map(|i| Keypair::from_seed(&[i + 1; 32])).collect();
    let set = ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap();
    let index = |k| keys.iter().position(|key| key.public_key() == k).unwrap();
    let (p0, me) = (index(set.proposer(Height(1), Round(0))), index(set.proposer(Height(1), Round(1))));
    let schedule = ValidatorSchedule::fixed(set);
    let b = block(1, &keys[p0], 0xb0);
    let (sign_state, lock) = lock_on_block(&keys, &schedule, me, &b);

    let config = EngineConfig::with_block_time(chain(), 1000);
    let mut engine = Engine::new(
        config.clone(),
        schedule,
        Keypair::from_seed(&[me as u8 + 1; 32]),
        Height(1),
        UnixMillis(0),
        Some(sign_state),
    );
    assert!(engine.restore_lock(lock.clone()));
    let actions = engine.handle(UnixMillis(5000), Input::Start);
    let reproposed = actions.iter().find_map(|a| match a {
        Action::Broadcast(Message::Proposal(p)) => Some((p.round, p.pol_round, p.block.hash())),
        _ => None,
    });
    assert_eq!(reproposed, Some((Round(1), Some(Round(0)), b.hash())), "{actions:?}");
    // The rebroadcast relays the proof of lock: the others' prevotes and its own.
    let rebroadcast = actions
        .iter()
        .find_map(|a| match a {
            Action::ScheduleTimeout { timeout, .. }
                if timeout.kind == coinjecture_consensus::TimeoutKind::Rebroadcast =>
            {
                Some(*timeout)
            }
            _ => None,
        })
        .unwrap();
    let relayed = engine.handle(UnixMillis(5000 + config.rebroadcast_ms as i64), Input::Timeout(rebroadcast));
    let pol_votes = relayed
        .iter()
        .filter(|a| matches!(a, Action::Broadcast(Message::Vote(v)) if v.round == Round(0) && v.vote_type == VoteType::Prevote && v.block_hash == Some(b.hash())))
        .count();
    assert_eq!(pol_votes, 3, "{relayed:?}");

    // A lock of another height is left alone.
    let mut stale = lock;
    stale.height = Height(7);
    let fresh_engine = &mut Engine::new(
        config,
        ValidatorSchedule::fixed(
            ValidatorSet::new(keys.iter().map(Keypair::public_key).collect(), QuorumMode::Byzantine).unwrap(),
        ),
        Keypair::from_seed(&[me as u8 + 1; 32]),
        Height(1),
        UnixMillis(0),
        None,
    );
    assert!(!fresh_engine.restore_lock(stale));
    assert_eq!(fresh_engine.locked(), None);
}
