//! `safemig init`, `safemig completions` and `safemig man`, end to end.

mod common;

use common::Project;

const APP: &str = "CREATE TABLE public.profiles (id uuid PRIMARY KEY, email text);
CREATE TABLE public.tracks (id int PRIMARY KEY);
CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.profiles (id, email) VALUES (NEW.id, NEW.email);
  RETURN NEW;
END $$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
";

#[test]
fn init_writes_a_config_and_a_new_user_test_that_work_and_never_overwrites() {
    let p = Project::new();
    p.migration("20250101000000_app.sql", APP);
    let run = p.safemig(&["migrate", "--backup", "skip"]);
    assert_eq!(run.code, 0, "{run:?}");
    p.exec("INSERT INTO public.tracks SELECT generate_series(1, 59); ANALYZE public.tracks;");

    let run = p.safemig(&["init"]);
    assert_eq!(run.code, 0, "{run:?}");
    let config = std::fs::read_to_string(p.path().join("safemig.toml")).unwrap();
    assert!(
        config.contains("functions = [\"public.handle_new_user()\"]"),
        "{config}"
    );
    assert!(
        config.contains("tables = [\"public.profiles\"]"),
        "{config}"
    );
    assert!(
        config.contains("# \"public.tracks\" = 59"),
        "the database's rows as a proposed floor: {config}"
    );
    let test =
        std::fs::read_to_string(p.path().join("supabase/tests/new_user_creates_profile.sql"))
            .unwrap();
    assert!(
        test.contains("FROM public.profiles WHERE id = new_id"),
        "{test}"
    );

    // What it wrote is read back as it is, and the test it wrote passes on a working trigger...
    let verify = p.safemig(&["verify", "--format", "json"]);
    assert_eq!(verify.code, 0, "{verify:?}");
    assert!(
        verify.stdout.contains("new_user_creates_profile.sql"),
        "{verify:?}"
    );
    // ... and fails when the trigger is gone.
    p.exec("DROP TRIGGER on_auth_user_created ON auth.users");
    let verify = p.safemig(&["verify"]);
    assert_eq!(verify.code, 1, "{verify:?}");

    // Never overwrites.
    std::fs::write(p.path().join("safemig.toml"), "# mine\n").unwrap();
    let again = p.safemig(&["init"]);
    assert_eq!(again.code, 2, "{again:?}");
    assert!(again.stderr.contains("exists already"), "{again:?}");
    assert_eq!(
        std::fs::read_to_string(p.path().join("safemig.toml")).unwrap(),
        "# mine\n"
    );
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_definition() {
    let p = Project::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = p.safemig_raw(&["completions", shell], &[]);
        assert_eq!(run.code, 0, "{shell}: {run:?}");
        assert!(
            run.stdout.contains("migrate") && run.stdout.contains("rehearse"),
            "{shell}: {}",
            run.stdout
        );
    }
    let man = p.safemig_raw(&["man"], &[]);
    assert_eq!(man.code, 0, "{man:?}");
    assert!(
        man.stdout.starts_with(".ie") || man.stdout.contains(".TH safemig"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    let bad = p.safemig_raw(&["completions", "tcsh"], &[]);
    assert_eq!(bad.code, 2, "{bad:?}");
}
