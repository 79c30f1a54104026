# Bash completion for blocksim (commands, options, and their values where they have a fixed set).
# Use: source deploy/blocksim.bash, or install it as /etc/bash_completion.d/blocksim.
# It asks blocksim itself (System.CommandLine's [suggest] directive), so it always matches the build in use.
_blocksim_complete() {
    local IFS=$'\n'
    local words
    words=$("${COMP_WORDS[0]}" "[suggest:${COMP_POINT}]" "${COMP_LINE}" 2>/dev/null) || return 0
    COMPREPLY=($(compgen -W "${words}" -- "${COMP_WORDS[COMP_CWORD]}"))
}
complete -o default -F _blocksim_complete blocksim
