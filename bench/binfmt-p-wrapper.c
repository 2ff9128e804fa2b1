/* The NixOS default interpreter path, rebuilt as a benchmark fixture: a small static program
 * registered with flag P in front of a dynamically linked qemu-user, as nixpkgs' wrapQemuBinfmtP
 * does for boot.binfmt.emulatedSystems (without preferStaticEmulators).
 *
 * With flag P the kernel starts it as  [wrapper, /full/path/of/program, original-argv0, args...].
 * It execs                             [QEMU, -0, original-argv0, (-E LD_x=...)..., --, path, args...]
 * and takes every LD_* variable out of the environment, handing it to the emulated program
 * with -E instead, so that the host's dynamic loader does not apply it to qemu itself.
 * Written for binfmtctl's benchmarks; behaviour as nixpkgs' binfmt-p-wrapper.c.
 *
 * Build: gcc -static -O2 -DTARGET_QEMU='"/usr/bin/qemu-riscv64"' -o qemu-riscv64-binfmt-P binfmt-p-wrapper.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TARGET_QEMU
#error "define TARGET_QEMU as the qemu-user path, e.g. -DTARGET_QEMU='\"/usr/bin/qemu-riscv64\"'"
#endif

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "%s: run me as a binfmt_misc interpreter registered with flag P (qemu: %s)\n",
                argc > 0 ? argv[0] : "binfmt-p-wrapper", TARGET_QEMU);
        return 1;
    }
    size_t nenv = 0;
    while (environ[nenv] != NULL)
        nenv++;

    /* qemu, -0, argv0, up to two slots per variable, --, path, the program's args, NULL */
    char **args = malloc((3 + 2 * nenv + 2 + (size_t)(argc - 3) + 1) * sizeof *args);
    char **env = malloc((nenv + 1) * sizeof *env);
    if (args == NULL || env == NULL) {
        perror("binfmt-p-wrapper: malloc");
        return 1;
    }
    size_t n = 0, e = 0;
    args[n++] = TARGET_QEMU;
    args[n++] = "-0";
    args[n++] = argv[2];
    for (size_t i = 0; i < nenv; i++) {
        if (strncmp(environ[i], "LD_", 3) == 0) {
            args[n++] = "-E";
            args[n++] = environ[i];
        } else {
            env[e++] = environ[i];
        }
    }
    env[e] = NULL;
    args[n++] = "--";
    args[n++] = argv[1];
    for (int i = 3; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;

    execve(args[0], args, env);
    perror("binfmt-p-wrapper: execve " TARGET_QEMU);
    return 127;
}
