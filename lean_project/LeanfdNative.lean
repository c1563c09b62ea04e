-- Built by `leanfd setup --native`: if this imports, every header leanfd uses natively does too.
import Mathlib
import Aesop
