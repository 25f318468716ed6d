#pragma once
// Opening a file below a virtual directory's descriptor under its symbolic-link policy, free of
// races: the kernel keeps the lookup beneath the folder (openat2 RESOLVE_BENEATH); a link that
// leaves it is followed only as the policy says, and the owners compared are those of the
// descriptors actually opened (the link itself, then what it resolves to), never of a path
// looked up again.
#include <string>

namespace lido::fs {

enum class SymlinkPolicy {
    Never,        // no link may leave the folder
    IfOwnerMatch, // a link that leaves it is followed when its owner owns its target (or is root)
    Always,       // links are followed anywhere
};

SymlinkPolicy parseSymlinkPolicy(const std::string& text); // "Never", "IfOwnerMatch", "Always"

struct Opened {
    int fd = -1;         // >= 0 on success (the caller closes it)
    int error = 0;       // errno otherwise; EXDEV when the policy refused a link
    std::string refusal; // what the policy refused, in words
};

// relative: below the folder, without a leading '/' ("" is the folder itself). flags: open(2)
// flags such as O_RDONLY or O_PATH (O_CLOEXEC is added).
Opened openBeneath(int rootFd, const std::string& relative, SymlinkPolicy policy, int flags);

} // namespace lido::fs
