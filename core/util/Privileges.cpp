#include "util/Privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lido::util {

bool canSwitchIdentity()
{
    if (::geteuid() == 0)
        return true;
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    if (::syscall(SYS_capget, &header, data) != 0)
        return false;
    auto has = [&](unsigned cap) { return (data[cap / 32].effective & (1u << (cap % 32))) != 0; };
    return has(CAP_SETUID) && has(CAP_SETGID) && has(CAP_KILL);
}

} // namespace lido::util
