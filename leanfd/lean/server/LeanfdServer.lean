module

/-
leanfd's Lean session: a long-lived Lean program that elaborates many proof attempts, one at a
time, each in a fresh command state (so no attempt can see another's declarations, macros,
notations or options).

Run as `lean --run LeanfdServer.lean DIR MOD...`. It imports the modules `MOD...` (default `Init`)
once, prints `{"ready":true}`, then polls DIR for requests `0`, `1`, … in order.
A request is two files: `N.lean`, the Lean source, then `N.req` (written last): line 1 the theorem
name to audit, line 2 `1` to also report the goals before and after each tactic (else `0`), and
for a whole-file attempt line 3 `file`, with a third file `N.ref` (written before `N.req`): the
reference source that states the theorem as the problem does. For each request it prints one JSON
line per Lean message, `{"id":N,"msg":{…}}`, then `{"id":N,"done":true,…}` with each command's
start line, end line and shape, whether the theorem exists as a theorem, its audited axioms, for a file
whether its theorem states exactly the reference's statement, and how long it took (`ms`), and
deletes the request files. A request whose line 1 starts with `#` is a library query (`#names`,
`#describe`, for agents' search; see "Library queries" below).

It never reads stdin: in the embedded build emscripten reads fd 0 with `fs.readSync`, which
throws EAGAIN on a pipe, and a main thread blocked reading it stops the output Lean's worker
threads send through it, so nothing comes out (measured).
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

/-- What a command is, for the judge's allow-list of file commands: its syntax kind; for a
declaration also the kind of what it declares; for `set_option` also the option's name; for
`A in B` both sides. -/
partial def commandShape (stx : Syntax) : String :=
  let k := stx.getKind
  -- `Name.toString` directly: through `s!` or `toString` the compiler wants a specialisation
  -- that the embedded build lacks
  if k == ``Parser.Command.declaration then k.toString ++ "/" ++ stx[1].getKind.toString
  else if k == ``Parser.Command.in then commandShape stx[0] ++ " in " ++ commandShape stx[2]
  else if k == ``Parser.Command.set_option then k.toString ++ " " ++ stx[1].getId.toString
  else k.toString

/-- The start line, end line and shape of every command except the end-of-input marker. -/
partial def commandLines (fm : FileMap) (xs : Array Syntax) (i : Nat) (starts ends shapes : Array Json) :
    Array Json × Array Json × Array Json :=
  if h : i < xs.size then
    let stx := xs[i]
    let start : Nat := match stx.getPos? with
      | some p => (fm.toPosition p).line
      | none => 0
    let stop : Nat := match stx.getTailPos? with
      | some p => (fm.toPosition p).line
      | none => start
    if stx.getKind == ``Parser.Command.eoi then commandLines fm xs (i + 1) starts ends shapes
    else commandLines fm xs (i + 1) (starts.push (toJson start)) (ends.push (toJson stop))
      (shapes.push (toJson (commandShape stx)))
  else (starts, ends, shapes)

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

/-! ## The statement check for whole-file attempts

The file's theorem must state exactly what the problem states. Both are elaborated from the same
imported environment, each in its own fresh command state, and their types compared as `Expr`s
(`==` is `Expr.eqv`: binder names and binder annotations are ignored, neither changes the
proposition). Declared types hold no metavariables: Lean instantiates them before adding the
declaration. Equal names mean equal constants for everything imported (a file cannot redeclare an
imported name), but not for constants that elaborating the statement itself made (e.g. the
matcher `foo.match_1` of a `match` in the statement) or that the header declared: the reference
and the file each made their own, so those are compared too, by type and value, transitively. -/

/-- The constants in `e`, each once (plain recursion: the library folds lack IR here). -/
partial def constsOf (e : Expr) (acc : Array Name) : Array Name :=
  match e with
  | .const n _ => if memName n acc then acc else acc.push n
  | .app f a => constsOf a (constsOf f acc)
  | .lam _ t b _ => constsOf b (constsOf t acc)
  | .forallE _ t b _ => constsOf b (constsOf t acc)
  | .letE _ t v b _ => constsOf b (constsOf v (constsOf t acc))
  | .mdata _ b => constsOf b acc
  | .proj _ _ b => constsOf b acc
  | _ => acc

def kindOf : ConstantInfo → Nat
  | .axiomInfo _ => 0 | .defnInfo _ => 1 | .thmInfo _ => 2 | .opaqueInfo _ => 3
  | .quotInfo _ => 4 | .inductInfo _ => 5 | .ctorInfo _ => 6 | .recInfo _ => 7

partial def sameNames : List Name → List Name → Bool
  | [], [] => true
  | a :: as, b :: bs => a == b && sameNames as bs
  | _, _ => false

/-- Do the constants `todo[i:]` (and those they mention) that `base`, the imported environment,
lacks mean the same in `refEnv` and `fileEnv`? `todo` grows as a work list and holds each name
once (`constsOf` adds only new ones). -/
partial def sameLocal (base refEnv fileEnv : Environment) (todo : Array Name) (i : Nat) : Bool :=
  if h : i < todo.size then
    let n := todo[i]
    if base.contains n then sameLocal base refEnv fileEnv todo (i + 1)
    else match refEnv.find? n, fileEnv.find? n with
      | some a, some b =>
        let vals := match a.value?, b.value? with
          | some x, some y => x == y
          | none, none => true
          | _, _ => false
        if kindOf a == kindOf b && sameNames a.levelParams b.levelParams && a.type == b.type && vals then
          let todo := constsOf a.type todo
          let todo := match a.value? with | some v => constsOf v todo | none => todo
          sameLocal base refEnv fileEnv todo (i + 1)
        else false
      | _, _ => false
  else true

def ppExprIn (env : Environment) (opts : Options) (e : Expr) : IO String :=
  (MessageData.withContext { env, mctx := {}, lctx := {}, opts } (.ofExpr e)).toString

partial def firstError (msgs : Array Message) (i : Nat) : IO String := do
  if h : i < msgs.size then
    if msgs[i].severity == .error then
      return s!"{msgs[i].pos.line}:{msgs[i].pos.column}: {← msgs[i].data.toString}"
    firstError msgs (i + 1)
  else return ""

/-- A reference already elaborated by this session. -/
structure Reference where
  src : String
  env : Environment
  err : String

partial def findReference (xs : Array Reference) (src : String) (i : Nat := 0) : Option Reference :=
  if h : i < xs.size then
    if xs[i].src == src then some xs[i] else findReference xs src (i + 1)
  else none

/-- The reference source elaborated in a fresh command state of the imported environment, and its
first error. Kept per session (up to 256, then started afresh): the reference is trusted text
elaborated from the imports alone, so reusing it shares nothing between attempts, and eval and
train send many attempts at each problem (elaborating it costs a third to a half of a small proof). -/
def elabReference (cache : IO.Ref (Array Reference)) (env : Environment) (refSrc : String) :
    IO (Environment × String) := do
  if let some r := findReference (← cache.get) refSrc then return (r.env, r.err)
  let refCtx : Parser.InputContext :=
    { inputString := refSrc, fileName := "<reference>", fileMap := refSrc.toFileMap }
  let r ← IO.processCommands refCtx {} (Command.mkState env {} {})
  let err ← firstError (elems r.commandState.messages.unreported) 0
  cache.modify fun xs => (if xs.size ≥ 256 then #[] else xs).push { src := refSrc, env := r.commandState.env, err }
  return (r.commandState.env, err)

/-- Compare the reference's theorem `name` with the file's (in `fileEnv`); the JSON says whether
they agree and, when they do not, shows both types. -/
def checkStatement (cache : IO.Ref (Array Reference)) (env fileEnv : Environment) (name : Name)
    (refSrc : String) : IO Json := do
  let (refEnv, err) ← elabReference cache env refSrc
  let result (same : Bool) (rs ts err : String) : Json :=
    Json.mkObj [("same", toJson same), ("reference", toJson rs), ("target", toJson ts), ("error", toJson err)]
  match refEnv.find? name with
  | none =>
    return result false "" "" (if err.isEmpty then "the reference declares no `" ++ name.toString ++ "`" else err)
  | some ref =>
    match fileEnv.find? name with
    | some (.thmInfo thm) =>
      let same := err.isEmpty && ref.type == thm.type && sameNames ref.levelParams thm.levelParams &&
        sameLocal env refEnv fileEnv (constsOf ref.type #[]) 0
      if same then return result true "" "" err
      let mut rs ← ppExprIn refEnv {} ref.type
      let mut ts ← ppExprIn fileEnv {} thm.type
      if rs == ts then  -- they differ where the default notation hides it
        let all := ({} : Options).setBool `pp.all true
        rs ← ppExprIn refEnv all ref.type
        ts ← ppExprIn fileEnv all thm.type
      return result false rs ts err
    | _ => return result false (← ppExprIn refEnv {} ref.type) "" err

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

/-- One request: `info` is `THEOREM_NAME\nGOALS_FLAG[\nfile]`, `src` the Lean source, `refSrc` the
reference source of a whole-file attempt (else empty). -/
def handle (env : Environment) (cache : IO.Ref (Array Reference)) (id : Nat) (info src refSrc : String) :
    IO Unit := do
  let t0 ← IO.monoMsNow
  let (thm, wantGoals, isFile) := match info.splitOn "\n" with
    | t :: g :: f :: _ => (t.trimAscii.toString, g.trimAscii.toString == "1", f.trimAscii.toString == "file")
    | t :: g :: _ => (t.trimAscii.toString, g.trimAscii.toString == "1", false)
    | t :: _ => (t.trimAscii.toString, false, false)
    | [] => ("", false, false)
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
  let (starts, ends, shapes) := commandLines fm s.commands 0 #[] #[] #[]
  let statement ← if isFile then checkStatement cache env env' name refSrc else pure Json.null
  IO.println (Json.mkObj [("id", toJson id), ("done", toJson true),
    ("commands", Json.arr starts), ("ends", Json.arr ends), ("shapes", Json.arr shapes),
    ("theorem", toJson isThm),
    ("axioms", Json.arr (reportable all env' axioms 0 #[])),
    ("goals", Json.arr (← goals.get)),
    ("statement", statement), ("ms", toJson ((← IO.monoMsNow) - t0))]).compress
  (← IO.getStdout).flush

/-! ## Library queries, for agents' `search` and `read`

A request whose info line starts with `#` asks about the imported environment instead of
elaborating: `#names` writes every imported constant's name to `N.out`, grouped under `#MODULE`
lines (a hundred thousand names are too many for one JSON line), and answers
`{"id":N,"done":true,"out":"N.out"}`; `#describe` answers with `"constants"`: for each name in
`N.lean` (one per line) its kind, signature, module and docstring. Nothing is elaborated. -/

/-- `#MODULE` then one constant name per line, for every imported module. -/
partial def namesText (mods : Array Name) (data : Array ModuleData) (i : Nat) (acc : String) : String :=
  if h : i < data.size then
    let acc := acc ++ "#" ++ (mods[i]?.getD .anonymous).toString ++ "\n"
    namesText mods data (i + 1) (addNames data[i].constNames 0 acc)
  else acc
where
  addNames (xs : Array Name) (j : Nat) (acc : String) : String :=
    if h : j < xs.size then addNames xs (j + 1) (acc ++ xs[j].toString ++ "\n") else acc

def kindLabel : ConstantInfo → String
  | .thmInfo _ => "theorem" | .defnInfo _ => "def" | .axiomInfo _ => "axiom"
  | .opaqueInfo _ => "opaque" | .quotInfo _ => "quot" | .inductInfo _ => "inductive"
  | .ctorInfo _ => "constructor" | .recInfo _ => "recursor"

/-- One constant: name, kind, signature, module, docstring. The embedded build's imported theorems
arrive without proofs, as axioms, so a Prop-typed axiom is reported as a theorem. -/
def describeConst (env : Environment) (n : Name) : IO Json := do
  match env.find? n with
  | none => return Json.mkObj [("name", toJson n.toString), ("kind", toJson "unknown")]
  | some ci =>
    try
      let ctx : Core.Context := { fileName := "<leanfd>", fileMap := default }
      let ((sig, prop), _, _) ← (do
          let sig ← PrettyPrinter.ppSignature n
          let prop ← Meta.isProp ci.type
          return (sig, prop) : MetaM (FormatWithInfos × Bool)).toIO ctx { env }
      let kind := match ci with
        | .axiomInfo _ => if prop then "theorem" else "axiom"
        | _ => kindLabel ci
      let modName := match env.getModuleIdxFor? n with
        | some idx => (env.header.moduleNames[idx.toNat]?.getD .anonymous).toString
        | none => ""
      let doc ← findDocString? env n
      return Json.mkObj [("name", toJson n.toString), ("kind", toJson kind),
        ("signature", toJson (toString sig.fmt)), ("module", toJson modName), ("doc", toJson (doc.getD ""))]
    catch e =>
      return Json.mkObj [("name", toJson n.toString), ("kind", toJson "error"), ("error", toJson e.toString)]

partial def describeAll (env : Environment) (ns : List String) (acc : Array Json) : IO (Array Json) := do
  match ns with
  | [] => return acc
  | n :: rest =>
    let n := n.trimAscii.toString
    if n.isEmpty then describeAll env rest acc
    else describeAll env rest (acc.push (← describeConst env n.toName))

def handleQuery (env : Environment) (dir : System.FilePath) (id : Nat) (info src : String) : IO Unit := do
  let t0 ← IO.monoMsNow
  let answer ← if info.trimAscii.toString == "#names" then do
      IO.FS.writeFile (dir / s!"{id}.out") (namesText env.header.moduleNames env.header.moduleData 0 "")
      pure ("out", toJson s!"{id}.out")
    else
      pure ("constants", Json.arr (← describeAll env (src.splitOn "\n") #[]))
  IO.println (Json.mkObj [("id", toJson id), ("done", toJson true), answer,
    ("ms", toJson ((← IO.monoMsNow) - t0))]).compress
  (← IO.getStdout).flush

/-- Requests arrive as `N.lean` (source) then `N.req` (metadata, written last, by rename).
Polls with a back-off: 1 ms after a request, doubling while idle up to 64 ms, so a busy
session answers at once and an idle one costs almost no CPU. -/
partial def loop (env : Environment) (cache : IO.Ref (Array Reference)) (dir : System.FilePath) (id : Nat)
    (wait : UInt32 := 1) : IO Unit := do
  let req := dir / s!"{id}.req"
  if ← req.pathExists then
    let src := dir / s!"{id}.lean"
    let info ← IO.FS.readFile req
    let content ← IO.FS.readFile src
    let ref := dir / s!"{id}.ref"
    let refSrc ← if ← ref.pathExists then IO.FS.readFile ref else pure ""
    if info.startsWith "#" then handleQuery env dir id info content
    else handle env cache id info content refSrc
    IO.FS.removeFile req
    IO.FS.removeFile src
    if ← ref.pathExists then IO.FS.removeFile ref
    loop env cache dir (id + 1) 1
  else
    -- the request directory disappears when the Python side closes (or cleans up after) us
    if !(← dir.pathExists) || (← (dir / "stop").pathExists) then return
    IO.sleep wait
    loop env cache dir id (if wait < 64 then wait * 2 else 64)

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
  loop env (← IO.mkRef #[]) dir 0
  return 0
