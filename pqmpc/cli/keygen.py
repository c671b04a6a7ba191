"""``pqmpc keygen``: a long-term identity key pair, or a pre-shared key file, for the secure channel.

``--out NAME`` writes ``NAME.key`` (secret, created with mode 0600) and ``NAME.pub``
(give it to the other party) and prints the fingerprint, short enough to compare over
the phone. ``--psk FILE`` writes a random pre-shared key (mode 0600) to hand to the
other party over a safe path.
"""

from __future__ import annotations

import os

from ..errors import InputError

HELP = "make an identity key pair (NAME.key, NAME.pub) or a pre-shared key file for the secure channel"


def add_parser(sub) -> None:
    # The docstring's second paragraph, without its reStructuredText quotes.
    p = sub.add_parser("keygen", help=HELP, description=__doc__.split("\n\n")[1].replace("``", "'"))
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", metavar="NAME", help="write NAME.key (secret, mode 600) and NAME.pub")
    what.add_argument("--psk", metavar="FILE", help="write a random 32-byte pre-shared key to FILE (mode 600)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..net.secure import Identity, generate_psk, save_psk

    target = args.out if args.out else args.psk
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise InputError(f"folder {folder} does not exist")
    if args.psk:
        path = save_psk(args.psk, generate_psk(), overwrite=args.force)
        print(f"wrote pre-shared key {path} (secret, mode 600): give it to the other party over a safe path; "
              f"both run with --psk FILE")
        return 0
    ident = Identity.generate()
    key, pub = ident.save(args.out, overwrite=args.force)
    print(f"wrote {key} (secret: keep it, mode 600) and {pub} (give it to the other party)")
    print(f"fingerprint: {ident.fingerprint}")
    print(f"the other party runs with --peer {os.path.basename(str(pub))}; you run with --identity "
          f"{os.path.basename(str(key))} --peer THEIRS.pub")
    return 0
