module

/-
leanfd's Lean session: a long-lived Lean program that elaborates many proof attempts, one at a
time, each in a fresh command state (so no attempt can see another's declarations, macros,
notations or options).

Run as `lean --run LeanfdServer.lean DIR MOD...`. It imports the modules `MOD...` (default `Init`)
once, prints `{"ready":true}`, then polls DIR for requests `0`, `1`, … in order.
A request is two files: `N.lean`, the Lean source, then `N.req` (written last): line 1 the theorem
name to audit, line 2 `1` to also report the goals before and after each tactic (else `0`). For each request it prints one JSON line per Lean
message, `{"id":N,"msg":{…}}`, then `{"id":N,"done":true,…}` with the command start lines, whether
the theorem exists as a theorem, and its audited axioms, and deletes the request files.

It never reads stdin: emscripten's stdin on a pipe does not work in the embedded build (facts).
Loops are written as plain recursion because some library loop helpers have no IR in the
embedded build.
-/

public import Lean.Elab.Frontend
public import Lean.Util.CollectAxioms

open Lean Elab

/-- Axioms that make a proof untrustworthy whatever else holds. -/
def forbiddenAxioms : Array Name :=
  #[``sorryAx, ``Lean.ofReduceBool, ``Lean.trustCompiler, `Lean.ofReduceNat]

def standardAxioms : Array Name := #[``propext, ``Classical.choice, ``Quot.sound]

partial def memName (n : Name) (xs : Array Name) (i : Nat := 0) : Bool :=
  if h : i < xs.size then n == xs[i] || memName n xs (i + 1) else false

/-- Axioms worth reporting: forbidden ones, the standard three, and any the attempt declared
itself (an axiom from no imported module). Imported theorems arrive without bodies in the
embedded build and look like axioms, so they are not listed unless `all` (set with the
environment variable `LEANFD_ALL_AXIOMS=1` by the native backend, whose imports carry bodies). -/
partial def reportable (all : Bool) (env : Environment) (xs : Array Name) (i : Nat) (acc : Array Json) :
    Array Json :=
  if h : i < xs.size then
    let a := xs[i]
    let keep := all || memName a forbiddenAxioms || memName a standardAxioms || (env.getModuleIdxFor? a).isNone
    reportable all env xs (i + 1) (if keep then acc.push (toJson a.toString) else acc)
  else acc

/-- The start line of every command except the end-of-input marker. -/
partial def commandLines (fm : FileMap) (xs : Array Syntax) (i : Nat) (acc : Array Json) : Array Json :=
  if h : i < xs.size then
    let stx := xs[i]
    let line : Nat := match stx.getPos? with
      | some p => (fm.toPosition p).line
      | none => 0
    let acc := if stx.getKind == ``Parser.Command.eoi then acc else acc.push (toJson line)
    commandLines fm xs (i + 1) acc
  else acc

/-! `PersistentArray`'s own accessors have no IR in the embedded build (`get!._redArg`), so we read
its two parts (a tree of nodes and a tail array) with our own recursion. -/
partial def pushAll {α : Type} (xs : Array α) (i : Nat) (acc : Array α) : Array α :=
  if h : i < xs.size then pushAll xs (i + 1) (acc.push xs[i]) else acc

mutual
partial def nodeElems {α : Type} : PersistentArrayNode α → Array α → Array α
  | .leaf vs, acc => pushAll vs 0 acc
  | .node cs, acc => nodesElems cs 0 acc
partial def nodesElems {α : Type} (cs : Array (PersistentArrayNode α)) (i : Nat) (acc : Array α) : Array α :=
  if h : i < cs.size then nodesElems cs (i + 1) (nodeElems cs[i] acc) else acc
end

def elems {α : Type} (pa : PersistentArray α) : Array α :=
  pushAll pa.tail 0 (nodeElems pa.root #[])

partial def printMsgs (id : Nat) (msgs : Array Message) (i : Nat) : IO Unit := do
  if h : i < msgs.size then
    let j ← msgs[i].toJson
    IO.println (Json.mkObj [("id", toJson id), ("msg", j)]).compress
    printMsgs id msgs (i + 1)

/-- Pretty-printed goals before and after each tactic, with the tactic's range (for the critic). -/
partial def collectGoals (fm : FileMap) (out : IO.Ref (Array Json)) (ctx? : Option ContextInfo) :
    InfoTree → IO Unit
  | .context pci t => collectGoals fm out (pci.mergeIntoOuter? ctx?) t
  | .node info children => do
    let ctx? := info.updateContext? ctx?
    match ctx?, info with
    | some ci, .ofTacticInfo ti =>
      match ti.stx.getPos?, ti.stx.getTailPos? with
      | some p, some e => do
        let before ← { ci with mctx := ti.mctxBefore }.ppGoals ti.goalsBefore
        let after ← { ci with mctx := ti.mctxAfter }.ppGoals ti.goalsAfter
        let sp := fm.toPosition p
        let ep := fm.toPosition e
        out.modify (·.push (Json.mkObj [("line", toJson sp.line), ("col", toJson sp.column),
          ("end_line", toJson ep.line), ("end_col", toJson ep.column),
          ("tactic", toJson ti.stx.getKind.toString),
          ("before", toJson (toString before)), ("after", toJson (toString after))]))
      | _, _ => pure ()
    | _, _ => pure ()
    collectGoalsArr fm out ctx? (elems children) 0
  | .hole _ => pure ()
where
  collectGoalsArr (fm : FileMap) (out : IO.Ref (Array Json)) (ctx? : Option ContextInfo)
      (ts : Array InfoTree) (i : Nat) : IO Unit := do
    if h : i < ts.size then
      collectGoals fm out ctx? ts[i]
      collectGoalsArr fm out ctx? ts (i + 1)

/-- One request: `info` is `THEOREM_NAME\nGOALS_FLAG`, `src` the Lean source. -/
def handle (env : Environment) (id : Nat) (info src : String) : IO Unit := do
  let (thm, wantGoals) := match info.splitOn "\n" with
    | t :: g :: _ => (t.trimAscii.toString, g.trimAscii.toString == "1")
    | t :: _ => (t.trimAscii.toString, false)
    | [] => ("", false)
  let fm := src.toFileMap
  let inputCtx : Parser.InputContext := { inputString := src, fileName := "<attempt>", fileMap := fm }
  let cmdState := Command.mkState env {} {}
  let cmdState := if wantGoals then
      { cmdState with infoState := { cmdState.infoState with enabled := true } }
    else cmdState
  let s ← IO.processCommands inputCtx {} cmdState
  printMsgs id (elems s.commandState.messages.unreported) 0
  let env' := s.commandState.env
  let name := thm.toName
  let isThm := match env'.find? name with
    | some (.thmInfo _) => true
    | _ => false
  let axioms : Array Name := if isThm then
      ((CollectAxioms.collect name).run env' |>.run {}).2.axioms
    else #[]
  let all := (← IO.getEnv "LEANFD_ALL_AXIOMS") == some "1"
  let goals ← IO.mkRef (#[] : Array Json)
  if wantGoals then
    let trees := s.commandState.infoState.trees
    collectGoals.collectGoalsArr fm goals none (elems trees) 0
  IO.println (Json.mkObj [("id", toJson id), ("done", toJson true),
    ("commands", Json.arr (commandLines fm s.commands 0 #[])),
    ("theorem", toJson isThm),
    ("axioms", Json.arr (reportable all env' axioms 0 #[])),
    ("goals", Json.arr (← goals.get))]).compress
  (← IO.getStdout).flush

/-- Requests arrive as `N.lean` (source) then `N.req` (metadata, written last, by rename).
Polls with a back-off: 1 ms after a request, doubling while idle up to 64 ms, so a busy
session answers at once and an idle one costs almost no CPU. -/
partial def loop (env : Environment) (dir : System.FilePath) (id : Nat) (wait : UInt32 := 1) : IO Unit := do
  let req := dir / s!"{id}.req"
  if ← req.pathExists then
    let src := dir / s!"{id}.lean"
    let info ← IO.FS.readFile req
    let content ← IO.FS.readFile src
    handle env id info content
    IO.FS.removeFile req
    IO.FS.removeFile src
    loop env dir (id + 1) 1
  else
    -- the request directory disappears when the Python side closes (or cleans up after) us
    if !(← dir.pathExists) || (← (dir / "stop").pathExists) then return
    IO.sleep wait
    loop env dir id (if wait < 64 then wait * 2 else 64)

partial def toImports (ms : List String) (acc : Array Import) : Array Import :=
  match ms with
  | [] => acc
  | m :: rest => toImports rest (acc.push { module := m.toName })

public def main (args : List String) : IO UInt32 := do
  let (dir, mods) : System.FilePath × List String := match args with
    | [] => (".", ["Init"])
    | [d] => (d, ["Init"])
    | d :: ms => (d, ms)
  let env ← importModules (toImports mods #[]) {} 0 (loadExts := true)
  IO.println "{\"ready\":true}"
  (← IO.getStdout).flush
  loop env dir 0
  return 0
