"""Build ``leanfd/data/suites/core.jsonl``: miniF2F problems restated in core Lean 4, with reference proofs.

Run from the repository root: ``python benchmarks/suites/build_core_suite.py``. Then check every row with
the embedded Lean: ``python benchmarks/suites/check_core_suite.py``.

How rows are made (see ``leanfd/data/suites/README.md``):

- ``statement`` is None: the miniF2F ``formal_statement`` restated mechanically for core Lean
  (``ℕ`` → ``Nat``, ``ℤ`` → ``Int``, the trailing ``by`` dropped). Nothing else changes.
- ``statement`` given: a restatement of a miniF2F problem whose original needs Mathlib definitions
  (``Finset`` sums → ``List`` sums, ``IsLeast`` of a set → its two defining conditions, a rational
  average → the sum it fixes). The informal statement and original formal statement are kept as
  provenance.

``difficulty`` is the tier the check script measures (``decide``/``omega``/``auto``: the bare one-line
tactic proves it; ``manual``: no bare one-liner does and the reference proof has at most 6 lines;
``hard``: longer). The check script fails if a tier disagrees with its measurement.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE_DIR = ROOT / "leanfd" / "data" / "suites"
MINIF2F = SUITE_DIR / "minif2f.jsonl"
OUT = SUITE_DIR / "core.jsonl"


@dataclass(frozen=True)
class Row:
    name: str
    difficulty: str
    reference_proof: str
    statement: str | None = None  # None: the miniF2F statement, restated mechanically


def core_statement(formal_statement: str) -> str:
    """The miniF2F statement in core Lean: Mathlib's number-set notation spelled out, ``:= by`` → ``:=``."""
    text = formal_statement.replace("ℕ", "Nat").replace("ℤ", "Int").rstrip()
    if not text.endswith(":= by"):
        raise ValueError(f"unexpected miniF2F statement ending: {text[-30:]!r}")
    return text[: -len(" by")]


ROWS = [
    Row(
        "amc12a_2015_p10",
        "hard",
        """by
  have hy : y < 9 := by
    apply Int.lt_of_not_ge
    intro h
    have : 10 * 9 ≤ x * y := Int.mul_le_mul (by omega) h (by omega) (by omega)
    omega
  have : y = 1 ∨ y = 2 ∨ y = 3 ∨ y = 4 ∨ y = 5 ∨ y = 6 ∨ y = 7 ∨ y = 8 := by omega
  rcases this with rfl | rfl | rfl | rfl | rfl | rfl | rfl | rfl <;> omega""",
    ),
    Row(
        "mathd_numbertheory_13",
        "hard",
        """by
  have hu : u = 39 := by
    have := h₁' 39 (by decide)
    omega
  subst hu
  have := h₂' 89 (by decide)
  omega""",
        statement="""theorem mathd_numbertheory_13 (u v : Nat) (h₁ : 0 < u ∧ 14 * u % 100 = 46)
    (h₁' : ∀ n, 0 < n ∧ 14 * n % 100 = 46 → u ≤ n) (h₂ : (0 < v ∧ 14 * v % 100 = 46) ∧ v ≠ u)
    (h₂' : ∀ n, (0 < n ∧ 14 * n % 100 = 46) ∧ n ≠ u → v ≤ n) : u + v = 128 :=""",
    ),
    Row(
        "induction_sum2kp1npqsqm1",
        "hard",
        """by
  have hs : ∀ l₁ l₂ : List Nat, (l₁ ++ l₂).sum = l₁.sum + l₂.sum := by
    intro l₁ l₂
    induction l₁ with
    | nil => simp
    | cons x t ih => simp [ih, Nat.add_assoc]
  induction n with
  | zero => decide
  | succ k ih =>
    rw [List.range_succ, List.map_append, hs, ih]
    simp only [List.map_cons, List.map_nil, List.sum_cons, List.sum_nil]
    have e : (k + 1 + 1) ^ 2 = (k + 1) ^ 2 + 2 * k + 3 := by grind
    have : 1 ≤ (k + 1) ^ 2 := Nat.one_le_pow _ _ (by omega)
    omega""",
        statement="""theorem induction_sum2kp1npqsqm1 (n : Nat) :
    ((List.range n).map (fun k => 2 * k + 3)).sum = (n + 1) ^ 2 - 1 :=""",
    ),
    Row(
        "imo_1964_p1_2",
        "hard",
        """by
  have h : ∀ k : Nat, 2 ^ k % 7 = 1 ∨ 2 ^ k % 7 = 2 ∨ 2 ^ k % 7 = 4 := by
    intro k
    induction k with
    | zero => decide
    | succ k ih =>
      rw [Nat.pow_succ, Nat.mul_mod]
      rcases ih with h | h | h <;> rw [h] <;> decide
  intro hd
  rcases h n with h | h | h <;> omega""",
    ),
    Row(
        "mathd_numbertheory_64",
        "auto",
        "⟨by decide, fun x hx => by omega⟩",
        statement="""theorem mathd_numbertheory_64 :
    30 * 39 % 47 = 42 % 47 ∧ ∀ x : Nat, 30 * x % 47 = 42 % 47 → 39 ≤ x :=""",
    ),
    Row(
        "mathd_numbertheory_33",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_48",
        "hard",
        """by
  have hb : b < 5 := by
    apply Nat.lt_of_not_le
    intro h
    have := Nat.pow_le_pow_left h 2
    omega
  have : b = 1 ∨ b = 2 ∨ b = 3 ∨ b = 4 := by omega
  rcases this with rfl | rfl | rfl | rfl <;> simp_all""",
    ),
    Row(
        "numbertheory_sqmod4in01d",
        "manual",
        """by
  have e : a ^ 2 = a * a := by grind
  rw [e]
  have h : a % 4 = 0 ∨ a % 4 = 1 ∨ a % 4 = 2 ∨ a % 4 = 3 := by omega
  rcases h with h | h | h | h <;> simp [Int.mul_emod, h]""",
    ),
    Row(
        "mathd_numbertheory_466",
        "decide",
        "by decide",
        statement="theorem mathd_numbertheory_466 : (List.range 11).sum % 9 = 1 :=",
    ),
    Row(
        "mathd_numbertheory_188",
        "decide",
        "by decide",
    ),
    Row(
        "induction_divisibility_3divnto3m2n",
        "hard",
        """by
  induction n with
  | zero => decide
  | succ k ih =>
    have e : (k + 1) ^ 3 + 2 * (k + 1) = (k ^ 3 + 2 * k) + 3 * (k ^ 2 + k + 1) := by grind
    rw [e]
    exact Nat.dvd_add ih (Nat.dvd_mul_right 3 _)""",
    ),
    Row(
        "mathd_numbertheory_109",
        "manual",
        """by
  have hv : v = fun n => 2 * n - 1 := funext h₀
  subst hv
  decide""",
        statement="""theorem mathd_numbertheory_109 (v : Nat → Nat) (h₀ : ∀ n, v n = 2 * n - 1) :
    ((List.range' 1 100).map v).sum % 7 = 4 :=""",
    ),
    Row(
        "mathd_numbertheory_236",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_24",
        "decide",
        "by decide",
        statement="theorem mathd_numbertheory_24 : ((List.range' 1 9).map (fun k => 11 ^ k)).sum % 100 = 59 :=",
    ),
    Row(
        "mathd_numbertheory_200",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_45",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_335",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_102",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_155",
        "decide",
        "by decide",
        statement="""theorem mathd_numbertheory_155 :
    ((List.range' 100 900).filter (fun x => x % 19 = 7)).length = 48 :=""",
    ),
    Row(
        "mathd_numbertheory_42",
        "hard",
        """by
  have hu : u = 11 := by
    have := h₁' 11 (by decide)
    omega
  subst hu
  have := h₂' 51 (by decide)
  omega""",
        statement="""theorem mathd_numbertheory_42 (u v : Nat) (h₁ : 0 < u ∧ 27 * u % 40 = 17)
    (h₁' : ∀ a, 0 < a ∧ 27 * a % 40 = 17 → u ≤ a) (h₂ : (0 < v ∧ 27 * v % 40 = 17) ∧ v ≠ u)
    (h₂' : ∀ a, (0 < a ∧ 27 * a % 40 = 17) ∧ a ≠ u → v ≤ a) : u + v = 62 :=""",
    ),
    Row(
        "amc12b_2004_p3",
        "hard",
        """by
  have h3 : 1 ≤ 3 ^ y := Nat.one_le_pow _ _ (by decide)
  have h2 : 1 ≤ 2 ^ x := Nat.one_le_pow _ _ (by decide)
  have hx : x < 11 := by
    apply Nat.lt_of_not_le
    intro h
    have := Nat.pow_le_pow_right (by decide : 0 < 2) h
    have := Nat.mul_le_mul this h3
    omega
  have hy : y < 7 := by
    apply Nat.lt_of_not_le
    intro h
    have := Nat.pow_le_pow_right (by decide : 0 < 3) h
    have := Nat.mul_le_mul h2 this
    omega
  have key : ∀ x, x < 11 → ∀ y, y < 7 → 2 ^ x * 3 ^ y = 1296 → x + y = 8 := by decide
  exact key x hx y hy h₀""",
    ),
    Row(
        "mathd_algebra_15",
        "auto",
        """by
  rw [h₀ 2 6 ⟨by decide, by decide⟩]""",
    ),
    Row(
        "mathd_numbertheory_640",
        "decide",
        "by decide",
    ),
    Row(
        "aime_1991_p1",
        "manual",
        """by
  have hx : x ≤ 71 := by omega
  have hy : y ≤ 71 := by omega
  have key : ∀ x, x ≤ 71 → ∀ y, y ≤ 71 → x * y + (x + y) = 71 → x ^ 2 * y + x * y ^ 2 = 880 →
      x ^ 2 + y ^ 2 = 146 := by decide +kernel
  exact key x hx y hy h₁ h₂""",
    ),
    Row(
        "amc12_2001_p2",
        "manual",
        """by
  subst h₂
  have h : a * b = a * 9 := by omega
  exact Nat.eq_of_mul_eq_mul_left (by omega) h""",
    ),
    Row(
        "mathd_numbertheory_284",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_461",
        "manual",
        """by
  subst h₀
  decide""",
        statement="""theorem mathd_numbertheory_461 (n : Nat)
    (h₀ : n = ((List.range' 1 7).filter (fun x => Nat.gcd x 8 = 1)).length) : 3 ^ n % 8 = 1 :=""",
    ),
    Row(
        "numbertheory_sqmod3in01d",
        "manual",
        """by
  have e : a ^ 2 = a * a := by grind
  rw [e]
  have h : a % 3 = 0 ∨ a % 3 = 1 ∨ a % 3 = 2 := by omega
  rcases h with h | h | h <;> simp [Int.mul_emod, h]""",
    ),
    Row(
        "aimeII_2001_p3",
        "hard",
        """by
  have step : ∀ m, 1 ≤ m → x (m + 5) = -x m := by
    intro m hm
    have a := h₆ (m + 4) (by omega)
    have b := h₆ (m + 5) (by omega)
    simp only [show m + 4 - 1 = m + 3 by omega, show m + 4 - 2 = m + 2 by omega,
      show m + 4 - 3 = m + 1 by omega, show m + 4 - 4 = m by omega, show m + 5 - 1 = m + 4 by omega,
      show m + 5 - 2 = m + 3 by omega, show m + 5 - 3 = m + 2 by omega,
      show m + 5 - 4 = m + 1 by omega] at a b
    omega
  have period : ∀ k m, 1 ≤ m → x (m + 10 * k) = x m := by
    intro k
    induction k with
    | zero => intro m _; rfl
    | succ k ih =>
      intro m hm
      rw [show m + 10 * (k + 1) = (m + 10 * k + 5) + 5 by omega, step _ (by omega),
        step _ (by omega), Int.neg_neg, ih m hm]
  have h5 := h₆ 5 (by decide)
  simp only [show 5 - 1 = 4 from rfl, show 5 - 2 = 3 from rfl, show 5 - 3 = 2 from rfl,
    show 5 - 4 = 1 from rfl] at h5
  rw [show 531 = 1 + 10 * 53 from rfl, show 753 = 3 + 10 * 75 from rfl,
    show 975 = 5 + 10 * 97 from rfl, period 53 1 (by decide), period 75 3 (by decide),
    period 97 5 (by decide)]
  omega""",
    ),
    Row(
        "mathd_numbertheory_136",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_198",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_37",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_458",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_301",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_269",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_101",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_156",
        "manual",
        """by
  have h1 : Nat.gcd (n + 7) (2 * n + 1) ∣ 2 * (n + 7) - (2 * n + 1) :=
    Nat.dvd_sub (Nat.dvd_trans (Nat.gcd_dvd_left _ _) (Nat.dvd_mul_left _ 2)) (Nat.gcd_dvd_right _ _)
  rw [show 2 * (n + 7) - (2 * n + 1) = 13 by omega] at h1
  exact Nat.le_of_dvd (by decide) h1""",
    ),
    Row(
        "mathd_algebra_144",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_149",
        "decide",
        "by decide",
        statement="""theorem mathd_numbertheory_149 :
    ((List.range 50).filter (fun x => x % 8 = 5 ∧ x % 6 = 3)).sum = 66 :=""",
    ),
    Row(
        "mathd_numbertheory_110",
        "omega",
        "by omega",
    ),
    Row(
        "induction_divisibility_9div10tonm1",
        "hard",
        """by
  clear h₀
  induction n with
  | zero => decide
  | succ k ih =>
    rw [Nat.pow_succ]
    omega""",
    ),
    Row(
        "mathd_numbertheory_370",
        "omega",
        "by omega",
    ),
    Row(
        "induction_divisibility_3div2tooddnp1",
        "manual",
        """by
  induction n with
  | zero => decide
  | succ k ih =>
    rw [show 2 * (k + 1) + 1 = (2 * k + 1) + 1 + 1 by omega, Nat.pow_succ, Nat.pow_succ]
    omega""",
    ),
    Row(
        "mathd_algebra_123",
        "omega",
        "by omega",
    ),
    Row(
        "imo_1964_p1_1",
        "hard",
        """by
  have h : ∀ k : Nat, (k % 3 = 0 ∧ 2 ^ k % 7 = 1) ∨ (k % 3 = 1 ∧ 2 ^ k % 7 = 2) ∨
      (k % 3 = 2 ∧ 2 ^ k % 7 = 4) := by
    intro k
    induction k with
    | zero => decide
    | succ k ih =>
      rw [Nat.pow_succ, Nat.mul_mod]
      rcases ih with ⟨h1, h2⟩ | ⟨h1, h2⟩ | ⟨h1, h2⟩ <;> rw [h2] <;> omega
  have hn := h n
  generalize 2 ^ n = m at h₀ hn
  rcases hn with ⟨h1, h2⟩ | ⟨h1, h2⟩ | ⟨h1, h2⟩ <;> omega""",
    ),
    Row(
        "mathd_numbertheory_30",
        "decide",
        "by decide",
    ),
    Row(
        "induction_seq_mul2pnp1",
        "hard",
        """by
  have hp : ∀ k : Nat, k + 2 ≤ 2 ^ (k + 1) := by
    intro k
    induction k with
    | zero => decide
    | succ k ih =>
      rw [Nat.pow_succ]
      omega
  induction n with
  | zero => simp [h₀]
  | succ k ih =>
    rw [h₁ k, ih, Nat.pow_succ 2 (k + 1)]
    have := hp k
    omega""",
    ),
    Row(
        "numbertheory_2dvd4expn",
        "manual",
        """by
  cases n with
  | zero => contradiction
  | succ m =>
    rw [Nat.pow_succ]
    omega""",
    ),
    Row(
        "mathd_numbertheory_92",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_412",
        "manual",
        """by
  simp [Int.pow_succ, Int.mul_emod, Int.add_emod, h₀, h₁]""",
    ),
    Row(
        "mathd_numbertheory_202",
        "decide",
        "by decide",
    ),
    Row(
        "numbertheory_4x3m7y3neq2003",
        "hard",
        """by
  have hc : x ^ 3 % 7 = 0 ∨ x ^ 3 % 7 = 1 ∨ x ^ 3 % 7 = 6 := by
    have e : x ^ 3 = x * x * x := by grind
    rw [e]
    have h : x % 7 = 0 ∨ x % 7 = 1 ∨ x % 7 = 2 ∨ x % 7 = 3 ∨ x % 7 = 4 ∨ x % 7 = 5 ∨ x % 7 = 6 := by
      omega
    rcases h with h | h | h | h | h | h | h <;> simp [Int.mul_emod, h]
  intro h
  omega""",
    ),
    Row(
        "mathd_numbertheory_1124",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_299",
        "decide",
        "by decide",
    ),
    Row(
        "numbertheory_x5neqy2p4",
        "hard",
        """by
  have hx : x ^ 5 % 11 = 0 ∨ x ^ 5 % 11 = 1 ∨ x ^ 5 % 11 = 10 := by
    have e : x ^ 5 = x * x * x * x * x := by grind
    rw [e]
    have h : 0 ≤ x % 11 ∧ x % 11 < 11 := by omega
    have : x % 11 = 0 ∨ x % 11 = 1 ∨ x % 11 = 2 ∨ x % 11 = 3 ∨ x % 11 = 4 ∨ x % 11 = 5 ∨
        x % 11 = 6 ∨ x % 11 = 7 ∨ x % 11 = 8 ∨ x % 11 = 9 ∨ x % 11 = 10 := by omega
    rcases this with h | h | h | h | h | h | h | h | h | h | h <;> simp [Int.mul_emod, h]
  have hy : y ^ 2 % 11 = 0 ∨ y ^ 2 % 11 = 1 ∨ y ^ 2 % 11 = 3 ∨ y ^ 2 % 11 = 4 ∨ y ^ 2 % 11 = 5 ∨
      y ^ 2 % 11 = 9 := by
    have e : y ^ 2 = y * y := by grind
    rw [e]
    have : y % 11 = 0 ∨ y % 11 = 1 ∨ y % 11 = 2 ∨ y % 11 = 3 ∨ y % 11 = 4 ∨ y % 11 = 5 ∨
        y % 11 = 6 ∨ y % 11 = 7 ∨ y % 11 = 8 ∨ y % 11 = 9 ∨ y % 11 = 10 := by omega
    rcases this with h | h | h | h | h | h | h | h | h | h | h <;> simp [Int.mul_emod, h]
  intro h
  omega""",
    ),
    Row(
        "mathd_numbertheory_430",
        "auto",
        """by
  subst h₆
  have key : ∀ a, a ≤ 9 → 1 ≤ a → ∀ b, b ≤ 9 → 10 * a + a - b = 2 * (a + b) →
      (a + b) * b = 10 * a + a + a → a + b + (a + b) = 8 := by decide
  exact key a h₀.2 h₀.1 b h₁.2 h₇ h₈""",
    ),
    Row(
        "induction_12dvd4expnp1p20",
        "manual",
        """by
  induction n with
  | zero => decide
  | succ k ih =>
    rw [Nat.pow_succ]
    omega""",
    ),
    Row(
        "mathd_numbertheory_277",
        "hard",
        """by
  have h := Nat.gcd_mul_lcm m n
  rw [h₀, h₁] at h
  obtain ⟨a, ha⟩ : 6 ∣ m := h₀ ▸ Nat.gcd_dvd_left m n
  obtain ⟨b, hb⟩ : 6 ∣ n := h₀ ▸ Nat.gcd_dvd_right m n
  subst ha hb
  have hab : a * b = 21 := by
    have : 36 * (a * b) = 36 * 21 := by grind
    omega
  have ha : a ≤ 21 := Nat.le_of_dvd (by decide) ⟨b, hab.symm⟩
  have hb : b ≤ 21 := Nat.le_of_dvd (by decide) ⟨a, by grind⟩
  have key : ∀ a, a ≤ 21 → ∀ b, b ≤ 21 → a * b = 21 → 10 ≤ a + b := by decide
  have := key a ha b hb hab
  omega""",
    ),
    Row(
        "mathd_numbertheory_559",
        "omega",
        "by omega",
    ),
    Row(
        "numbertheory_notequiv2i2jasqbsqdiv8",
        "manual",
        """by
  intro h
  obtain ⟨k, hk⟩ := (h 2 0).mp ⟨1, 0, by decide, by decide⟩
  omega""",
    ),
    Row(
        "mathd_numbertheory_345",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_328",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_765",
        "omega",
        "by omega",
    ),
    Row(
        "imo_1959_p1",
        "manual",
        """by
  have h1 : Nat.gcd (21 * n + 4) (14 * n + 3) ∣ 3 * (14 * n + 3) - 2 * (21 * n + 4) :=
    Nat.dvd_sub (Nat.dvd_trans (Nat.gcd_dvd_right _ _) (Nat.dvd_mul_left _ 3))
      (Nat.dvd_trans (Nat.gcd_dvd_left _ _) (Nat.dvd_mul_left _ 2))
  rw [show 3 * (14 * n + 3) - 2 * (21 * n + 4) = 1 by omega] at h1
  exact Nat.dvd_one.mp h1""",
    ),
    Row(
        "mathd_numbertheory_175",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_728",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_293",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_769",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_5",
        "hard",
        """by
  obtain ⟨x, rfl⟩ := h₁
  obtain ⟨t, ht⟩ := h₂
  apply Nat.le_of_not_lt
  intro hlt
  have hx : x < 8 := by
    apply Nat.lt_of_not_le
    intro h
    have := Nat.pow_le_pow_left h 2
    omega
  have htt : t < 4 := by
    apply Nat.lt_of_not_le
    intro h
    have := Nat.pow_le_pow_left h 3
    omega
  have key : ∀ x, x < 8 → ∀ t, t < 4 → t ^ 3 = x ^ 2 → 10 ≤ x ^ 2 → 64 ≤ x ^ 2 := by decide
  exact absurd (key x hx t htt ht h₀) (by omega)""",
    ),
    Row(
        "mathd_numbertheory_207",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_483",
        "hard",
        """by
  have key : ∀ k, a (6 * k + 1) % 4 = 1 ∧ a (6 * k + 2) % 4 = 1 := by
    intro k
    induction k with
    | zero => simp [h₀, h₁]
    | succ k ih =>
      have e3 : a (6 * k + 3) = a (6 * k + 2) + a (6 * k + 1) := h₂ (6 * k + 1)
      have e4 : a (6 * k + 4) = a (6 * k + 3) + a (6 * k + 2) := h₂ (6 * k + 2)
      have e5 : a (6 * k + 5) = a (6 * k + 4) + a (6 * k + 3) := h₂ (6 * k + 3)
      have e6 : a (6 * k + 6) = a (6 * k + 5) + a (6 * k + 4) := h₂ (6 * k + 4)
      have e7 : a (6 * (k + 1) + 1) = a (6 * k + 6) + a (6 * k + 5) := h₂ (6 * k + 5)
      have e8 : a (6 * (k + 1) + 2) = a (6 * (k + 1) + 1) + a (6 * k + 6) := h₂ (6 * k + 6)
      omega
  have h97 : a 97 % 4 = 1 ∧ a 98 % 4 = 1 := key 16
  have e99 : a 99 = a 98 + a 97 := h₂ 97
  have e100 : a 100 = a 99 + a 98 := h₂ 98
  omega""",
    ),
    Row(
        "mathd_numbertheory_247",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_314",
        "auto",
        """by
  subst h₀
  obtain ⟨k, rfl⟩ := h₂
  have : k = 0 ∨ k = 1 ∨ k = 2 ∨ k = 3 ∨ k = 4 ∨ 5 ≤ k := by omega
  rcases this with rfl | rfl | rfl | rfl | rfl | h <;> omega""",
    ),
    Row(
        "amc12b_2002_p7",
        "hard",
        """by
  subst h₁ h₂
  have h4 : (a + 1) * (a * (a + 1 + 1)) = (a + 1) * 24 := by grind
  have h5 : a * (a + 1 + 1) = 24 := Nat.eq_of_mul_eq_mul_left (by omega) h4
  have ha : a < 10 := by
    apply Nat.lt_of_not_le
    intro h
    have : 10 * 12 ≤ a * (a + 1 + 1) := Nat.mul_le_mul h (by omega)
    omega
  have key : ∀ a, a < 10 → a * (a + 1 + 1) = 24 → a ^ 2 + ((a + 1) ^ 2 + (a + 1 + 1) ^ 2) = 77 := by
    decide
  exact key a ha h5""",
    ),
    Row(
        "amc12_2000_p12",
        "manual",
        """by
  have key : ∀ a, a ≤ 12 → ∀ m, m ≤ 12 → a + m ≤ 12 →
      a * m * (12 - a - m) + a * m + m * (12 - a - m) + a * (12 - a - m) ≤ 112 := by decide
  have hc : c = 12 - a - m := by omega
  subst hc
  exact key a (by omega) m (by omega) (by omega)""",
    ),
    Row(
        "mathd_numbertheory_34",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_435",
        "hard",
        """by
  apply Nat.le_of_not_lt
  intro hk
  have : k = 1 ∨ k = 2 ∨ k = 3 ∨ k = 4 := by omega
  rcases this with rfl | rfl | rfl | rfl
  · exact absurd (h₃ 1) (by decide)
  · exact absurd (h₂ 0) (by decide)
  · exact absurd (h₁ 0) (by decide)
  · exact absurd (h₂ 0) (by decide)""",
    ),
    Row(
        "mathd_numbertheory_99",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_229",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_100",
        "manual",
        """by
  have h := Nat.gcd_mul_lcm n 40
  rw [h₁, h₂] at h
  omega""",
    ),
    Row(
        "amc12a_2002_p6",
        "manual",
        """by
  exact ⟨n + 1, by omega, 1, by omega⟩""",
    ),
    Row(
        "mathd_algebra_304",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_711",
        "hard",
        """by
  have h := Nat.gcd_mul_lcm m n
  rw [h₁, h₂] at h
  obtain ⟨a, ha⟩ : 8 ∣ m := h₁ ▸ Nat.gcd_dvd_left m n
  obtain ⟨b, hb⟩ : 8 ∣ n := h₁ ▸ Nat.gcd_dvd_right m n
  subst ha hb
  have hab : a * b = 14 := by
    have : 64 * (a * b) = 64 * 14 := by grind
    omega
  have ha : a ≤ 14 := Nat.le_of_dvd (by decide) ⟨b, hab.symm⟩
  have hb : b ≤ 14 := Nat.le_of_dvd (by decide) ⟨a, by grind⟩
  have key : ∀ a, a ≤ 14 → ∀ b, b ≤ 14 → a * b = 14 → 9 ≤ a + b := by decide
  have := key a ha b hb hab
  omega""",
    ),
    Row(
        "mathd_numbertheory_212",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_320",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_algebra_125",
        "omega",
        "by omega",
    ),
    Row(
        "induction_11div10tonmn1ton",
        "manual",
        """by
  induction n with
  | zero => decide
  | succ k ih =>
    rw [Int.pow_succ, Int.pow_succ]
    omega""",
    ),
    Row(
        "mathd_numbertheory_254",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_85",
        "decide",
        "by decide",
    ),
    Row(
        "amc12b_2002_p2",
        "auto",
        """by
  subst h₀
  decide""",
    ),
    Row(
        "mathd_numbertheory_517",
        "decide",
        "by decide",
    ),
    Row(
        "amc12a_2021_p3",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_235",
        "decide",
        "by decide",
    ),
    Row(
        "mathd_numbertheory_234",
        "manual",
        """by
  have key : ∀ a, a ≤ 9 → ∀ b, b ≤ 9 → (10 * a + b) ^ 3 = 912673 → a + b = 16 := by decide
  exact key a h₀.2.1 b h₀.2.2 h₁""",
    ),
    Row(
        "mathd_numbertheory_222",
        "manual",
        """by
  have h := Nat.gcd_mul_lcm 120 b
  rw [h₀, h₁] at h
  omega""",
    ),
    Row(
        "mathd_numbertheory_541",
        "hard",
        """by
  have key : ∀ k, k ≤ 44 → 1 < k → 2005 % k = 0 → k = 5 := by decide
  rcases Nat.lt_or_ge m 45 with hm | hm
  · have := key m (by omega) h₀ (by rw [← h₂]; exact Nat.mul_mod_right m n)
    subst this
    omega
  · rcases Nat.lt_or_ge n 45 with hn | hn
    · have := key n (by omega) h₁ (by rw [← h₂]; exact Nat.mul_mod_left m n)
      subst this
      omega
    · have := Nat.mul_le_mul hm hn
      omega""",
    ),
    Row(
        "mathd_algebra_314",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_296",
        "hard",
        """by
  obtain ⟨x, rfl⟩ := h₁
  obtain ⟨t, ht⟩ := h₂
  apply Nat.le_of_not_lt
  intro hlt
  have hx : x < 16 := by
    apply Nat.lt_of_not_le
    intro h
    have := Nat.pow_le_pow_left h 3
    omega
  have htt : t < 8 := by
    apply Nat.lt_of_not_le
    intro h
    have := Nat.pow_le_pow_left h 4
    omega
  have key : ∀ x, x < 16 → ∀ t, t < 8 → t ^ 4 = x ^ 3 → 2 ≤ x ^ 3 → 4096 ≤ x ^ 3 := by decide
  exact absurd (key x hx t htt ht h₀) (by omega)""",
    ),
    Row(
        "mathd_numbertheory_185",
        "omega",
        "by omega",
    ),
    Row(
        "mathd_numbertheory_582",
        "omega",
        "by omega",
    ),
]


def build() -> list[dict]:
    minif2f = {}
    for line in MINIF2F.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        minif2f[row["name"]] = row
    out = []
    for r in ROWS:
        src = minif2f[r.name]
        informal = src["informal_prefix"].strip().removeprefix("/--").removesuffix("-/").strip()
        out.append(
            {
                "name": r.name,
                "split": src["split"],
                "informal": informal,
                "statement": r.statement
                if r.statement is not None
                else core_statement(src["formal_statement"]),
                "header": "",
                "reference_proof": r.reference_proof,
                "source": "minif2f",
                "difficulty": r.difficulty,
                "original_statement": src["formal_statement"],
            }
        )
    names = [row["name"] for row in out]
    if len(set(names)) != len(names):
        raise ValueError("duplicate names in ROWS")
    return out


def write_atomically(rows: list[dict], path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    rows = build()
    write_atomically(rows, OUT)
    print(f"wrote {len(rows)} problems to {OUT.relative_to(ROOT)}")
