// flowtrail's Nextflow demo: count the words of three texts, then rank them.
// Run it with `flowtrail nextflow run main.nf` in a folder under a flowtrail instance.
params.texts = "${projectDir}/data/*.txt"
params.outdir = 'results'

process COUNT {
    tag "$name"
    publishDir "${params.outdir}/counts", mode: 'copy'

    input:
    tuple val(name), path(text)

    output:
    path "${name}.counts.tsv"

    script:
    """
    tr -cs 'A-Za-z' '\\n' < ${text} | tr 'A-Z' 'a-z' | grep -v '^\$' | sort | uniq -c \\
        | awk '{ print \$2 "\\t" \$1 }' > ${name}.counts.tsv
    """
}

process RANK {
    publishDir params.outdir, mode: 'copy'

    input:
    path counts

    output:
    path "top_words.tsv"

    script:
    """
    cat ${counts} | awk -F '\\t' '{ n[\$1] += \$2 } END { for (w in n) print w "\\t" n[w] }' \\
        | sort -k2,2nr -k1,1 | head -n 10 > top_words.tsv
    """
}

workflow {
    texts = Channel.fromPath(params.texts).map { f -> tuple(f.baseName, f) }
    RANK(COUNT(texts).collect())
}
