/* test_csv — the CSV reader: RFC 4180 quoting, line numbers, blank lines, BOM, line
 * endings, every error and limit, allocation failures, and the shared corpus in
 * fuzz/corpus/csv (ok_* must read to the end, bad_* must fail, edge_* must return). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "csv.h"
#include "harness.h"

/* Parses n bytes and renders every row as "LINE:[f1|f2]" one per line ('\n' and '\r'
 * inside fields shown as \n and \r), then "END" or "ERR <message>". */
static const char *render(const char *in, size_t n)
{
    static char out[1 << 16];
    size_t o = 0;
    enc_csv *c;
    enc_err err;
    out[0] = '\0';
    if (enc_csv_open_mem(&c, in, n, &err) != ENC_OK) {
        snprintf(out, sizeof out, "OPEN %s", err.msg);
        return out;
    }
    enc_csv_row row;
    int got;
    while ((got = enc_csv_next(c, &row, &err)) == 1) {
        o += (size_t)snprintf(out + o, sizeof out - o, "%zu:[", row.line);
        for (size_t i = 0; i < row.nfields && o < sizeof out - 8; i++) {
            if (i)
                out[o++] = '|';
            for (size_t k = 0; k < row.fields[i].n && o < sizeof out - 8; k++) {
                char ch = row.fields[i].p[k];
                if (ch == '\n' || ch == '\r') {
                    out[o++] = '\\';
                    out[o++] = ch == '\n' ? 'n' : 'r';
                } else {
                    out[o++] = ch;
                }
            }
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "]\n");
    }
    if (got == 0)
        snprintf(out + o, sizeof out - o, "END");
    else
        snprintf(out + o, sizeof out - o, "ERR %s", err.msg);
    enc_csv_close(c);
    return out;
}

static const char *render_s(const char *in)
{
    return render(in, strlen(in));
}

static void test_plain_rows(void)
{
    T_CHECK_STR(render_s("a,b,c\n1,2,3\n"), "1:[a|b|c]\n2:[1|2|3]\nEND");
    T_CHECK_STR(render_s("a,b\n1,2"), "1:[a|b]\n2:[1|2]\nEND"); /* no final newline */
    T_CHECK_STR(render_s("x\n"), "1:[x]\nEND");
    T_CHECK_STR(render_s(""), "END");
}

static void test_empty_fields(void)
{
    T_CHECK_STR(render_s(",\n"), "1:[|]\nEND");
    T_CHECK_STR(render_s("a,,c,\n"), "1:[a||c|]\nEND");
    T_CHECK_STR(render_s("\"\",x\n"), "1:[|x]\nEND");

    /* Empty fields are empty strings, never NULL slices. */
    enc_csv *c;
    enc_err err;
    enc_csv_row row;
    T_CHECK(enc_csv_open_mem(&c, "a,,\"\"", 5, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1);
    T_CHECK(row.nfields == 3);
    T_CHECK(row.fields[1].p != NULL && row.fields[1].n == 0);
    T_CHECK(row.fields[2].p != NULL && row.fields[2].n == 0);
    enc_csv_close(c);
}

static void test_quotes(void)
{
    T_CHECK_STR(render_s("\"a,b\",c\n"), "1:[a,b|c]\nEND");
    T_CHECK_STR(render_s("\"say \"\"hi\"\"\",x\n"), "1:[say \"hi\"|x]\nEND");
    T_CHECK_STR(render_s("\"\"\"\"\n"), "1:[\"]\nEND");
    T_CHECK_STR(render_s("\"\"\"\"\"\"\n"), "1:[\"\"]\nEND");
    T_CHECK_STR(render_s("a,\"\"\"x\"\"\"\n"), "1:[a|\"x\"]\nEND");
    T_CHECK_STR(render_s("\"last\""), "1:[last]\nEND"); /* quoted field at end of input */
    T_CHECK_STR(render_s("\"a\"\"\",\"b\"\r\n"), "1:[a\"|b]\nEND");
}

static void test_embedded_newlines_and_line_numbers(void)
{
    T_CHECK_STR(render_s("a,\"x\ny\",b\nc\n"), "1:[a|x\\ny|b]\n3:[c]\nEND");
    T_CHECK_STR(render_s("\"1\n2\n3\n4\"\nnext\n\nafter,blank\n"), "1:[1\\n2\\n3\\n4]\n5:[next]\n7:[after|blank]\nEND");
    T_CHECK_STR(render_s("\"a\r\nb\"\r\nc\r\n"), "1:[a\\r\\nb]\n3:[c]\nEND");
    T_CHECK_STR(render_s("\"a\rb\"\nc\n"), "1:[a\\rb]\n3:[c]\nEND");
    /* An error after a multi-line field names the line where it happens. */
    T_CHECK_STR(render_s("h\n\"a\nb\nc\" x\n"),
                "1:[h]\nERR line 4: unexpected 'x' after the closing quote of field 1 (a quoted field must be "
                "followed by ',' or the end of the line)");
}

static void test_bom_and_line_endings(void)
{
    T_CHECK_STR(render_s("\xEF\xBB\xBFid,name\r\n1,x\r\n"), "1:[id|name]\n2:[1|x]\nEND");
    T_CHECK_STR(render_s("\xEF\xBB\xBF"), "END");
    T_CHECK_STR(render_s("\xEF\xBB\xBF\"q\"\n"), "1:[q]\nEND");
    /* A BOM anywhere else is data. */
    T_CHECK_STR(render_s("a\n\xEF\xBB\xBF" "b\n"), "1:[a]\n2:[\xEF\xBB\xBF" "b]\nEND");
    T_CHECK_STR(render_s("a,b\rc,d\re"), "1:[a|b]\n2:[c|d]\n3:[e]\nEND"); /* lone CR */
    T_CHECK_STR(render_s("a\r\n\r\nb\n\nc\r\rd"), "1:[a]\n3:[b]\n5:[c]\n7:[d]\nEND");
}

static void test_blank_lines(void)
{
    T_CHECK_STR(render_s("\n\na\n\n\nb\n\n"), "3:[a]\n6:[b]\nEND");
    T_CHECK_STR(render_s("  \t \na\n   "), "2:[a]\nEND"); /* whitespace-only lines are blank */
    T_CHECK_STR(render_s("\n\n\n"), "END");
    T_CHECK_STR(render_s("\"\"\n"), "1:[]\nEND"); /* a quoted empty field is a row, not a blank line */
}

static void test_spaces(void)
{
    T_CHECK_STR(render_s(" a , b \n"), "1:[ a | b ]\nEND"); /* kept in unquoted fields */
    T_CHECK_STR(render_s("a, \"b, c\" ,d\n"), "1:[a|b, c|d]\nEND");
    T_CHECK_STR(render_s("\t\"x\"\t\n"), "1:[x]\nEND");
    T_CHECK_STR(render_s("\" pad \"\n"), "1:[ pad ]\nEND");
}

static void test_errors(void)
{
    T_CHECK_STR(render_s("a\nb\n\"open\n\n"), "1:[a]\n2:[b]\nERR line 3: quoted field never closed");
    T_CHECK_STR(render_s("a,\"x"), "ERR line 1: quoted field never closed");
    T_CHECK_STR(render_s("\""), "ERR line 1: quoted field never closed");
    T_CHECK_STR(render_s("ok\nab\"c,d\n"),
                "1:[ok]\nERR line 2: stray '\"' in unquoted field 1 (quote the whole field and double the quotes "
                "inside it: \"say \"\"hi\"\"\")");
    T_CHECK_STR(render_s("x,y\"\n"),
                "ERR line 1: stray '\"' in unquoted field 2 (quote the whole field and double the quotes inside "
                "it: \"say \"\"hi\"\"\")");
    T_CHECK_STR(render_s("a,\"b\"c\n"),
                "ERR line 1: unexpected 'c' after the closing quote of field 2 (a quoted field must be followed "
                "by ',' or the end of the line)");
    T_CHECK_STR(render_s("\"b\"\x01\n"),
                "ERR line 1: unexpected byte 0x01 after the closing quote of field 1 (a quoted field must be "
                "followed by ',' or the end of the line)");
    T_CHECK_STR(render("a\nb\0c\n", 6), "1:[a]\nERR line 2: NUL byte in the input (is it a binary or UTF-16 file?)");
    T_CHECK_STR(render("\"a\0\"\n", 5), "ERR line 1: NUL byte in the input (is it a binary or UTF-16 file?)");
    T_CHECK_STR(render("\"a\"\0\n", 5), "ERR line 1: NUL byte in the input (is it a binary or UTF-16 file?)");
    T_CHECK_STR(render("\0", 1), "ERR line 1: NUL byte in the input (is it a binary or UTF-16 file?)");
    T_CHECK_STR(render("\xFF\xFEi\0d\0", 6), "ERR line 1: NUL byte in the input (is it a binary or UTF-16 file?)");
}

static void test_error_is_sticky(void)
{
    enc_csv *c;
    enc_err err;
    enc_csv_row row;
    T_CHECK(enc_csv_open_mem(&c, "a\n\"x", 4, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1);
    T_CHECK(enc_csv_next(c, &row, &err) == -1);
    strcpy(err.msg, "overwritten");
    T_CHECK(enc_csv_next(c, &row, &err) == -1);
    T_CHECK_STR(err.msg, "line 2: quoted field never closed");
    T_CHECK(enc_csv_next(c, &row, NULL) == -1); /* err may be NULL */
    enc_csv_close(c);

    T_CHECK(enc_csv_open_mem(&c, "a", 1, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1);
    T_CHECK(enc_csv_next(c, &row, &err) == 0);
    T_CHECK(enc_csv_next(c, &row, &err) == 0);
    enc_csv_close(c);
}

/* A row of `nfields` fields "0,1,2,..." followed by a newline. */
static char *many_fields(size_t nfields, size_t *len)
{
    char *s = malloc(nfields * 6 + 2);
    size_t o = 0;
    for (size_t i = 0; i < nfields; i++)
        o += (size_t)sprintf(s + o, i ? ",%zu" : "%zu", i);
    s[o++] = '\n';
    s[o] = '\0';
    *len = o;
    return s;
}

static void test_limit_fields(void)
{
    size_t len;
    char *s = many_fields(ENC_CSV_MAX_FIELDS, &len);
    enc_csv *c;
    enc_err err;
    enc_csv_row row;
    T_CHECK(enc_csv_open_mem(&c, s, len, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1);
    T_CHECK(row.nfields == ENC_CSV_MAX_FIELDS);
    T_CHECK_MEM(row.fields[1023].p, row.fields[1023].n, "1023");
    T_CHECK(enc_csv_next(c, &row, &err) == 0);
    enc_csv_close(c);
    free(s);

    s = many_fields(ENC_CSV_MAX_FIELDS + 1, &len);
    T_CHECK_STR(render(s, len), "ERR line 1: row has more than 1024 fields (ENC_CSV_MAX_FIELDS)");
    free(s);

    /* A row of 1025 empty fields: only commas. */
    char commas[ENC_CSV_MAX_FIELDS + 2];
    memset(commas, ',', ENC_CSV_MAX_FIELDS);
    commas[ENC_CSV_MAX_FIELDS] = '\n';
    T_CHECK_STR(render(commas, ENC_CSV_MAX_FIELDS + 1), "ERR line 1: row has more than 1024 fields (ENC_CSV_MAX_FIELDS)");
    T_CHECK_STR(render(commas, ENC_CSV_MAX_FIELDS), "ERR line 1: row has more than 1024 fields (ENC_CSV_MAX_FIELDS)");
    T_CHECK(strncmp(render(commas + 1, ENC_CSV_MAX_FIELDS), "1:[|", 4) == 0); /* 1023 commas: 1024 fields */
}

static void test_limit_field_size(void)
{
    size_t max = ENC_CSV_MAX_FIELD;
    char *s = malloc(max + 16);
    enc_csv *c;
    enc_err err;
    enc_csv_row row;

    /* Exactly the limit, unquoted then quoted: fine. */
    memset(s, 'x', max);
    memcpy(s + max, "\n", 1);
    T_CHECK(enc_csv_open_mem(&c, s, max + 1, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.fields[0].n == max);
    enc_csv_close(c);
    s[0] = '"';
    memset(s + 1, 'x', max);
    s[max + 1] = '"';
    T_CHECK(enc_csv_open_mem(&c, s, max + 2, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.fields[0].n == max);
    enc_csv_close(c);

    /* A byte more: an error naming the field and line. */
    memset(s, 'x', max + 1);
    T_CHECK_STR(render(s, max + 1), "ERR line 1: field 1 is longer than 1048576 bytes (ENC_CSV_MAX_FIELD)");
    s[0] = '"';
    memset(s + 1, 'x', max + 1);
    s[max + 2] = '"';
    T_CHECK_STR(render(s, max + 3), "ERR line 1: field 1 is longer than 1048576 bytes (ENC_CSV_MAX_FIELD)");

    /* Doubled quotes count once: max+1 raw bytes unescape to fewer. */
    s[0] = '"';
    memset(s + 1, 'x', max - 2);
    memcpy(s + max - 1, "\"\"\"", 3); /* ends with an escaped quote then the closing one */
    T_CHECK(enc_csv_open_mem(&c, s, max + 2, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.fields[0].n == max - 1);
    T_CHECK(row.fields[0].p[max - 2] == '"');
    enc_csv_close(c);
    free(s);
}

static void test_open_file(void)
{
    enc_csv *c = (enc_csv *)1;
    enc_err err;
    T_CHECK(enc_csv_open(&c, "/nonexistent/x.csv", &err) == ENC_ERROR);
    T_CHECK(c == NULL);
    T_CHECK_STR(err.msg, "cannot open '/nonexistent/x.csv': No such file or directory");
    T_CHECK(enc_csv_open(&c, "tests", &err) == ENC_ERROR);
    T_CHECK_STR(err.msg, "cannot read 'tests': Is a directory");

    char path[] = "/tmp/encore_test_csv_XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("\xEF\xBB\xBFid,v\r\n1,\"a\r\nb\"\r\n", f);
    fclose(f);
    T_CHECK(enc_csv_open(&c, path, &err) == ENC_OK);
    enc_csv_row row;
    T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.line == 1 && row.nfields == 2);
    T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.line == 2);
    T_CHECK_MEM(row.fields[1].p, row.fields[1].n, "a\r\nb");
    T_CHECK(enc_csv_next(c, &row, &err) == 0);
    enc_csv_close(c);
    remove(path);

    /* Reading from a pipe-like file without a size. */
    T_CHECK(enc_csv_open(&c, "/dev/null", &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 0);
    enc_csv_close(c);
}

/* A regular file is mapped: a file of a whole number of pages still ends in a NUL
 * sentinel (the last field is read to the end, not past it), unescaping quotes in place
 * leaves the file itself unchanged, and an unclosed quote at the very end is an error. */
static void test_mapped_file_page_sizes(void)
{
    static const size_t sizes[] = {4096, 8192, 4095, 4097, 65536};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char *text = malloc(n);
        const char *head = "id,v\n1,\"say \"\"hi\"\"\"\n2,";
        size_t h = strlen(head);
        memcpy(text, head, h);
        memset(text + h, 'x', n - h); /* the last field runs to the end of the file */
        char path[] = "/tmp/encore_test_csv_XXXXXX";
        int fd = mkstemp(path);
        T_CHECK(fd >= 0 && write(fd, text, n) == (ssize_t)n);
        close(fd);
        enc_csv *c;
        enc_err err;
        enc_csv_row row;
        T_CHECK(enc_csv_open(&c, path, &err) == ENC_OK);
        T_CHECK(enc_csv_size(c) == n);
        T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.nfields == 2);
        T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.nfields == 2);
        T_CHECK_MEM(row.fields[1].p, row.fields[1].n, "say \"hi\"");
        T_CHECK(enc_csv_next(c, &row, &err) == 1 && row.nfields == 2);
        T_CHECK(row.fields[1].n == n - h);
        T_CHECK(enc_csv_next(c, &row, &err) == 0);
        enc_csv_close(c);
        char *back = malloc(n);
        FILE *f = fopen(path, "rb");
        T_CHECK(f && fread(back, 1, n, f) == n && memcmp(back, text, n) == 0); /* file untouched */
        if (f)
            fclose(f);
        /* The same size ending inside a quoted field. */
        text[h] = '"';
        f = fopen(path, "wb");
        T_CHECK(f && fwrite(text, 1, n, f) == n);
        if (f)
            fclose(f);
        T_CHECK(enc_csv_open(&c, path, &err) == ENC_OK);
        T_CHECK(enc_csv_next(c, &row, &err) == 1);
        T_CHECK(enc_csv_next(c, &row, &err) == 1);
        T_CHECK(enc_csv_next(c, &row, &err) == -1);
        T_CHECK(strstr(err.msg, "quoted field never closed") != NULL);
        enc_csv_close(c);
        remove(path);
        free(back);
        free(text);
    }
}

static void test_rows_bound(void)
{
    enc_csv *c;
    enc_err err;
    enc_csv_row row;
    T_CHECK(enc_csv_open_mem(&c, "h\r\na\nb\rc", 9, &err) == ENC_OK);
    T_CHECK(enc_csv_rows_bound(c) == 4);
    T_CHECK(enc_csv_next(c, &row, &err) == 1);
    T_CHECK(enc_csv_rows_bound(c) == 3);
    T_CHECK(enc_csv_size(c) == 9);
    enc_csv_close(c);
}

static void test_copies_input(void)
{
    char buf[] = "\"a\"\"b\",c\n";
    enc_csv *c;
    enc_err err;
    enc_csv_row row;
    T_CHECK(enc_csv_open_mem(&c, buf, strlen(buf), &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 1);
    T_CHECK_MEM(row.fields[0].p, row.fields[0].n, "a\"b");
    T_CHECK_STR(buf, "\"a\"\"b\",c\n"); /* the caller's buffer is untouched */
    enc_csv_close(c);
    T_CHECK(enc_csv_open_mem(&c, NULL, 0, &err) == ENC_OK);
    T_CHECK(enc_csv_next(c, &row, &err) == 0);
    enc_csv_close(c);
}

static void test_alloc_failures(void)
{
    const char *in = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t\n\"x\"\"y\",z\n";
    int ok_runs = 0;
    for (long k = 0; k < 10; k++) {
        enc_csv *c;
        enc_err err;
        enc_alloc_fail_after(k);
        if (enc_csv_open_mem(&c, in, strlen(in), &err) != ENC_OK) {
            T_CHECK(strstr(err.msg, "out of memory") != NULL);
            continue;
        }
        enc_csv_row row;
        int got;
        size_t rows = 0;
        while ((got = enc_csv_next(c, &row, &err)) == 1)
            rows++;
        if (got == 0) {
            T_CHECK(rows == 2);
            ok_runs++;
        } else {
            T_CHECK(strstr(err.msg, "out of memory") != NULL);
        }
        enc_csv_close(c);
    }
    enc_alloc_fail_after(-1);
    T_CHECK(ok_runs > 0);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_corpus(void)
{
    const char *dir = "fuzz/corpus/csv";
    DIR *d = opendir(dir);
    T_CHECK(d != NULL);
    if (!d)
        return;
    int seen_ok = 0, seen_bad = 0, seen_edge = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int ok = starts_with(de->d_name, "ok_"), bad = starts_with(de->d_name, "bad_");
        int edge = starts_with(de->d_name, "edge_");
        if (!ok && !bad && !edge)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        enc_csv *c;
        enc_err err;
        if (enc_csv_open(&c, path, &err) != ENC_OK) {
            fprintf(stderr, "  %s: %s\n", path, err.msg);
            T_CHECK(!"corpus file opens");
            continue;
        }
        enc_csv_row row;
        int got;
        size_t last_line = 0;
        while ((got = enc_csv_next(c, &row, &err)) == 1) {
            T_CHECK(row.line > last_line);
            last_line = row.line;
        }
        if (ok && got != 0)
            fprintf(stderr, "  %s: expected to read to the end, got: %s\n", path, err.msg);
        if (bad && got != -1)
            fprintf(stderr, "  %s: expected an error, read to the end\n", path);
        T_CHECK(!ok || got == 0);
        T_CHECK(!bad || got == -1);
        seen_ok += ok;
        seen_bad += bad;
        seen_edge += edge;
        enc_csv_close(c);
    }
    closedir(d);
    T_CHECK(seen_ok >= 4 && seen_bad >= 4 && seen_edge >= 2);
}

int main(void)
{
    T_RUN(test_plain_rows);
    T_RUN(test_empty_fields);
    T_RUN(test_quotes);
    T_RUN(test_embedded_newlines_and_line_numbers);
    T_RUN(test_bom_and_line_endings);
    T_RUN(test_blank_lines);
    T_RUN(test_spaces);
    T_RUN(test_errors);
    T_RUN(test_error_is_sticky);
    T_RUN(test_limit_fields);
    T_RUN(test_limit_field_size);
    T_RUN(test_open_file);
    T_RUN(test_mapped_file_page_sizes);
    T_RUN(test_rows_bound);
    T_RUN(test_copies_input);
    T_RUN(test_alloc_failures);
    T_RUN(test_corpus);
    return t_summary("csv");
}
