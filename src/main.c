/* Placeholder: replaced by the CLI (see src/admin). */
int main(void)
{
    return 0;
}
